"""The web demo's request handling, independent of the web framework.

:class:`DemoService` checks a request (image present, decodable, not too large; a class list
neither empty nor too long), runs the config's inferencer from a pool and returns the picture,
the legend rows and a message. Bad input never raises: it comes back as the message, so the
page shows it and the server keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from dense_clip.utils.overlay import check_alpha

from .builder import build_inferencer
from .classes import ClassNameWarning, parse_classes

__all__ = ['DemoLimits', 'DemoReply', 'DemoService', 'InferencerPool']

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoLimits:
    """What one request may ask for.

    Attributes:
        max_pixels: Largest image (width x height) accepted.
        max_classes: Longest vocabulary accepted.
    """

    max_pixels: int = 4_000_000
    max_classes: int = 300


@dataclass
class DemoReply:
    """The answer to one request.

    Attributes:
        picture: ``(H, W, 3)`` uint8 RGB, or None when the request was refused.
        headers: Legend column names.
        rows: Legend rows (class, then numbers).
        message: What happened, in one or two sentences (Markdown).
    """

    picture: np.ndarray | None
    headers: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    message: str = ''


class InferencerPool:
    """Inferencers by (config, CLIP), at most ``per_key`` of each, one request at a time each.

    Two requests for the same model get two instances (built on demand), so they run side by
    side without sharing a model's lazy state. At most ``max_keys`` models are kept; the least
    recently used idle ones are dropped first.

    Args:
        factory: ``factory(config, clip) -> inferencer``.
        per_key: Instances per model, i.e. concurrent requests per model.
        max_keys: Models kept in memory.
    """

    def __init__(self, factory: Callable[[str, dict | None], Any], per_key: int = 2,
                 max_keys: int = 3) -> None:
        self.factory = factory
        self.per_key = per_key
        self.max_keys = max_keys
        self._idle: OrderedDict[tuple, list] = OrderedDict()
        self._count: dict[tuple, int] = {}
        self._cond = threading.Condition()

    @staticmethod
    def _key(config: str, clip: dict | None) -> tuple:
        return (config, tuple(sorted((clip or {}).items())))

    def _evict(self) -> None:
        while len(self._count) > self.max_keys:
            victim = next((k for k, idle in self._idle.items() if len(idle) == self._count[k]),
                          None)
            if victim is None:
                return  # every other model is busy; keep it
            del self._idle[victim], self._count[victim]

    @contextmanager
    def acquire(self, config: str, clip: dict | None) -> Iterator[Any]:
        """Lends an inferencer for ``(config, clip)``, building one if none is free."""
        key = self._key(config, clip)
        with self._cond:
            while True:
                idle = self._idle.setdefault(key, [])
                self._idle.move_to_end(key)
                if idle:
                    inferencer = idle.pop()
                    break
                if self._count.get(key, 0) < self.per_key:
                    self._count[key] = self._count.get(key, 0) + 1
                    inferencer = None
                    break
                self._cond.wait()
        if inferencer is None:
            logger.info('building %s (instance %d of at most %d)', Path(config).name,
                        self._count[key], self.per_key)
            try:
                inferencer = self.factory(config, clip)
            except BaseException:
                with self._cond:
                    self._count[key] -= 1
                    self._cond.notify_all()
                raise
        try:
            yield inferencer
        finally:
            with self._cond:
                if key in self._count:
                    self._idle.setdefault(key, []).append(inferencer)
                self._evict()
                self._cond.notify_all()


class DemoService:
    """Segments (or detects) one uploaded image with a typed vocabulary.

    Args:
        configs: Method name -> config path.
        limits: Size limits of a request.
        per_model: Concurrent requests per model (instances kept of each).
        factory: ``factory(config, clip) -> inferencer`` (default :func:`build_inferencer`).
    """

    def __init__(self, configs: dict[str, str], limits: DemoLimits = DemoLimits(),
                 per_model: int = 2, factory: Callable | None = None) -> None:
        if not configs:
            raise ValueError('the demo needs at least one config')
        self.configs = dict(configs)
        self.limits = limits
        self.pool = InferencerPool(factory or (lambda config, clip: build_inferencer(
            config, clip=clip)), per_key=per_model)

    def check_image(self, image_path: str | None) -> str | None:
        """A message if the upload is missing, not an image, or too large; else None."""
        if not image_path:
            return 'No image: upload one or pick an example.'
        try:
            with Image.open(image_path) as image:  # reads the header only
                width, height = image.size
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
            return f'Not an image this demo can read ({Path(image_path).name}): {err}'
        if width * height > self.limits.max_pixels:
            return (f'Image too large: {width}x{height} = {width * height / 1e6:.1f} megapixels; '
                    f'this demo accepts up to {self.limits.max_pixels / 1e6:.1f} megapixels. '
                    'Resize it and try again.')
        return None

    def parse_vocabulary(self, text: str) -> tuple[list[str] | None, str | None, list[str]]:
        """(classes, None, notes), or (None, message, []) for an empty or too long list.

        ``notes`` say which classes are shown under a name set with ``name:``.
        """
        text = (text or '').strip()
        if not text:
            return None, ('No classes: type comma-separated class names, e.g. '
                          '`cat, dog|puppy, sky`.'), []
        count = text.count(',') + 1
        if count > self.limits.max_classes:
            return None, (f'Too many classes: {count}; this demo accepts up to '
                          f'{self.limits.max_classes}.'), []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always', ClassNameWarning)
                classes = parse_classes(text)
        except ValueError as err:
            return None, f'Bad class list: {err}', []
        return classes, None, [str(w.message) for w in caught
                               if issubclass(w.category, ClassNameWarning)]

    def __call__(self, image_path: str | None, classes_text: str, method: str,
                 clip: dict | None = None, alpha: float = 0.55) -> DemoReply:
        """Handles one request; bad input comes back as ``DemoReply.message``."""
        problem = self.check_image(image_path)
        classes, vocabulary_problem, notes = self.parse_vocabulary(classes_text)
        problem = problem or vocabulary_problem
        if problem is None and method not in self.configs:
            problem = f'Unknown method {method!r}; choose one of {", ".join(self.configs)}.'
        if problem is None:
            try:
                alpha = check_alpha(alpha, 'opacity')
            except ValueError as err:
                problem = f'{str(err)[0].upper()}{str(err)[1:]}.'
        if problem is not None:
            return DemoReply(None, message=problem)
        start = time.perf_counter()
        try:
            with self.pool.acquire(self.configs[method], clip) as inferencer:
                result = inferencer(image_path, classes)
        except Exception as err:  # a failed request must not stop the server
            logger.warning('request failed', exc_info=True)
            text = ' '.join(str(err.args[0] if isinstance(err, KeyError) and err.args else err)
                            .split())
            return DemoReply(None, message=f'Could not run {method}: {text}')
        headers, rows = result.legend()
        seconds = time.perf_counter() - start
        logger.info('%s: %d classes, %.2f s', method, len(classes), seconds)
        height, width = result.image_rgb.shape[:2]
        note = ''.join(f' Note: {n}.' for n in notes)
        return DemoReply(result.render(alpha), headers, rows,
                         f'{method}: {width}x{height} image, {len(classes)} classes, '
                         f'{seconds:.2f} s.{note}')
