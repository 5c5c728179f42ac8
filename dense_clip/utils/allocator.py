"""Freed memory kept in the process for reuse (glibc's malloc), set by the command-line tools.

glibc serves every allocation above its mmap threshold (128 KB, raised as blocks are freed, to at
most 32 MB) with a fresh mapping from the kernel, and returns it when it is freed. Inference on
the CPU allocates image-sized maps (a 59-class map of a 448x336 image is 35 MB) and the next
image's maps then fault in and zero every page again: on this project's machines, allocating
and filling such a map took 13.7 ms against 1.4 ms to refill one already held, and a whole
bfloat16 SCLIP ViT-B/16 image (448x336, 59 classes) took 0.47 s against 0.41 s with the heap
keeping them. :func:`tune_cpu_allocator` raises glibc's mmap threshold to
:data:`MMAP_THRESHOLD_BYTES` and its trim threshold to :data:`TRIM_THRESHOLD_BYTES`, so that such
blocks come from the heap and are reused (what Intel's PyTorch tuning guide gets from jemalloc or
tcmalloc). Thresholds of 1 GiB were as fast, but a 4000x3000 ADE-847 image then peaked at 4.1 GB
instead of 3.7 GB; these kept its peak within 1% of glibc's defaults.

The tools call it once at start-up (``utils.cli.run_cli``, ``tools/benchmark_speed.py``); a
program that uses dense_clip as a library may call it too. ``DENSE_CLIP_MALLOC_TUNING=0`` turns
it off. Elsewhere than glibc it does nothing. The cost: memory a process has freed stays
counted in its resident size (up to the trim threshold) instead of going back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ['MMAP_THRESHOLD_BYTES', 'TRIM_THRESHOLD_BYTES', 'tune_cpu_allocator']

MMAP_THRESHOLD_BYTES = 64 << 20  # larger blocks are still mapped and returned at once
TRIM_THRESHOLD_BYTES = 128 << 20  # free memory kept at the top of the heap, at most
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
        What was set, e.g. ``'glibc mallopt: M_MMAP_THRESHOLD=64 MB, M_TRIM_THRESHOLD=128 MB'``,
        or None where nothing was (not glibc, ``DENSE_CLIP_MALLOC_TUNING=0``, glibc refused).

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
        if (libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(MMAP_THRESHOLD_BYTES))
                and libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(TRIM_THRESHOLD_BYTES))):
            done = (f'glibc mallopt: M_MMAP_THRESHOLD={MMAP_THRESHOLD_BYTES >> 20} MB, '
                    f'M_TRIM_THRESHOLD={TRIM_THRESHOLD_BYTES >> 20} MB')
    _DONE.append(done)
    return done
