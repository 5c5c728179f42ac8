"""Progress of long work: a tqdm bar on a terminal, a start and an end line elsewhere.

Used wherever work can take more than a few seconds outside mmengine's Runner (which logs its
own progress): text encoding, dataset and checkpoint conversion, synthetic data generation,
the synthetic benchmark and the demos. On a terminal the bar shows the rate and the time left;
when the stream is not a terminal (a log file, CI, a pipe) only two lines are written::

    [synthetic val set] start: 200 images
    [synthetic val set] done: 200 images in 0.6 s (312.1 images/s)

``DENSE_CLIP_PROGRESS`` overrides the choice: ``bar``, ``lines`` or ``off``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TextIO, TypeVar

__all__ = ['Progress', 'run_all', 'track']

T = TypeVar('T')
_MODES = ('bar', 'lines', 'off')


def _mode(stream: TextIO, interactive: bool | None) -> str:
    forced = os.environ.get('DENSE_CLIP_PROGRESS', '').strip().lower()
    if forced:
        if forced not in _MODES:
            raise ValueError(f'DENSE_CLIP_PROGRESS={forced!r}; valid values: {", ".join(_MODES)}')
        return forced
    if interactive is None:
        isatty = getattr(stream, 'isatty', None)
        interactive = bool(callable(isatty) and isatty())
    return 'bar' if interactive else 'lines'


def _rate(count: float, seconds: float, unit: str) -> str:
    if seconds <= 0 or count <= 0:
        return ''
    rate = count / seconds
    return f' ({rate:.1f} {unit}s/s)' if rate >= 1 else f' ({1 / rate:.2f} s/{unit})'


class Progress:
    """Reports the progress of one piece of work.

    Use as a context manager and call :meth:`update` as work gets done::

        with Progress(len(prompts), 'text encoding', unit='prompt') as progress:
            for batch in batches:
                ...
                progress.update(len(batch))

    Args:
        total: Units of work expected (None when unknown: no time left is shown).
        desc: What is being done, e.g. ``'text encoding'``.
        unit: Singular name of one unit, e.g. ``'prompt'``, ``'image'``.
        stream: Where to write (default: ``sys.stderr`` at construction).
        delay: Seconds of work before anything is shown; work that ends sooner stays silent.
        interactive: Force the bar (True) or the two lines (False); None picks the bar when
            ``stream`` is a terminal.
    """

    def __init__(self, total: int | None, desc: str, unit: str = 'item',
                 stream: TextIO | None = None, delay: float = 0.0,
                 interactive: bool | None = None) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.mode = _mode(self.stream, interactive)
        self.count = 0
        self._start = time.perf_counter()
        self._announced = False
        self._closed = False
        self._bar: Any = None
        if self.mode == 'bar':
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, delay=delay,
                             dynamic_ncols=True, leave=True)
        elif self.mode == 'lines' and delay <= 0:
            self._announce()

    def _units(self, count: int) -> str:
        return f'{count} {self.unit}{"" if count == 1 else "s"}'

    def _write(self, text: str) -> None:
        self.stream.write(f'[{self.desc}] {text}\n')
        self.stream.flush()

    def _announce(self) -> None:
        self._announced = True
        total = '' if self.total is None else f': {self._units(self.total)}'
        late = self.elapsed()
        after = f' (running for {late:.1f} s)' if self.delay > 0 and late > 0.05 else ''
        self._write(f'start{total}{after}')

    def elapsed(self) -> float:
        """Seconds since the work started."""
        return time.perf_counter() - self._start

    def update(self, n: int = 1) -> None:
        """Records ``n`` more units done."""
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == 'lines' and not self._announced and self.elapsed() >= self.delay:
            self._announce()

    def close(self, error: BaseException | None = None) -> None:
        """Ends the report: the end line says how much was done, how fast, or why it stopped."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
            if error is not None:
                self._write(f'stopped after {self._done()} ({type(error).__name__})')
            return
        if self.mode != 'lines':
            return
        if not self._announced and self.elapsed() >= self.delay and self.delay > 0:
            self._announce()
        if not self._announced:
            return
        seconds = self.elapsed()
        if error is None:
            self._write(f'done: {self._units(self.count)} in {seconds:.1f} s'
                        f'{_rate(self.count, seconds, self.unit)}')
        else:
            self._write(f'stopped after {self._done()} in {seconds:.1f} s '
                        f'({type(error).__name__})')

    def _done(self) -> str:
        return self._units(self.count) + ('' if self.total is None else f' of {self.total}')

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.close(exc)


def track(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = 'item',
          **kwargs: Any) -> Iterator[T]:
    """Yields from ``iterable`` while reporting one unit per item (see :class:`Progress`).

    Args:
        iterable: The work items.
        desc: What is being done.
        total: Number of items (default: ``len(iterable)`` when it has one).
        unit: Singular name of one item.
        **kwargs: ``stream``, ``delay``, ``interactive`` of :class:`Progress`.
    """
    if total is None and hasattr(iterable, '__len__'):
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(total, desc, unit=unit, **kwargs) as progress:
        for item in iterable:
            yield item
            progress.update()


def run_all(fn: Callable[[T], Any], jobs: Sequence[T], desc: str, unit: str = 'item',
            workers: int = 1, chunksize: int = 16) -> None:
    """Runs ``fn`` on every job, in ``workers`` processes when above 1, reporting progress.

    Args:
        fn: a picklable function of one job (results are discarded).
        jobs: the work items.
        desc: what is being done.
        unit: singular name of one job.
        workers: processes (1: in this process).
        chunksize: jobs handed to a worker at a time.
    """
    if workers > 1:
        from multiprocessing import Pool

        with Pool(workers) as pool:
            for _ in track(pool.imap_unordered(fn, jobs, chunksize=chunksize), desc,
                           total=len(jobs), unit=unit):
                pass
    else:
        for job in track(jobs, desc, unit=unit):
            fn(job)
