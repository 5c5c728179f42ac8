"""Freed memory kept in the process for reuse (glibc's malloc), set by the command-line tools.

glibc serves every allocation above its mmap threshold (128 KB, raised as blocks are freed, to at
most 32 MB) with a fresh mapping from the kernel, and returns it when it is freed. Inference on
the CPU allocates image-sized maps (a 59-class map of a 448x336 image is 35 MB) and the next
image's maps then fault in and zero every page again: on this project's machines, allocating
and filling such a map took 13.7 ms against 1.4 ms to refill one already held, and a whole
bfloat16 SCLIP ViT-B/16 image (448x336, 59 classes) took 0.47 s against 0.41 s with the
thresholds below, at the same peak memory. :func:`tune_cpu_allocator` raises glibc's mmap and
trim thresholds to :data:`THRESHOLD_BYTES` so that freed blocks stay in the heap and are reused
(what Intel's PyTorch tuning guide gets from jemalloc or tcmalloc).

The tools call it once at start-up (``utils.cli.run_cli``, ``tools/benchmark_speed.py``); a
program that uses dense_clip as a library may call it too. ``DENSE_CLIP_MALLOC_TUNING=0`` turns
it off. Elsewhere than glibc it does nothing. The cost: memory a process has freed stays
counted in its resident size (up to the threshold) instead of going back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ['THRESHOLD_BYTES', 'tune_cpu_allocator']

THRESHOLD_BYTES = 1 << 30  # 1 GiB: larger blocks are still mapped and returned at once
_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_DONE: list[str | None] = []


def _glibc():
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None
    if not hasattr(libc, 'gnu_get_libc_version') or not hasattr(libc, 'mallopt'):
        return None  # not glibc (musl's mallopt does nothing)
    return libc


def tune_cpu_allocator() -> str | None:
    """Raises glibc's mmap and trim thresholds (once per process; see the module docstring).

    Returns:
        What was set, e.g. ``'glibc mallopt: M_MMAP_THRESHOLD=M_TRIM_THRESHOLD=1 GiB'``, or None
        where nothing was (not glibc, ``DENSE_CLIP_MALLOC_TUNING=0``, or glibc refused).

    Raises:
        ValueError: ``DENSE_CLIP_MALLOC_TUNING`` is neither 0 nor 1.
    """
    setting = os.environ.get('DENSE_CLIP_MALLOC_TUNING', '1').strip()
    if setting not in ('0', '1'):
        raise ValueError(f'DENSE_CLIP_MALLOC_TUNING must be 0 or 1, got {setting!r}')
    if setting == '0':
        return None
    if _DONE:
        return _DONE[0]
    libc, done = _glibc(), None
    if libc is not None:
        value = ctypes.c_int(THRESHOLD_BYTES)
        if libc.mallopt(_M_MMAP_THRESHOLD, value) and libc.mallopt(_M_TRIM_THRESHOLD, value):
            done = f'glibc mallopt: M_MMAP_THRESHOLD=M_TRIM_THRESHOLD={THRESHOLD_BYTES >> 30} GiB'
    _DONE.append(done)
    return done
