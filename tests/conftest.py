"""Shared fixtures: small synthetic data sets written in the real on-disk formats."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
HELPERS = Path(__file__).resolve().parent / 'helpers'


@pytest.fixture(autouse=True)
def _loggers_write_to_open_streams():
    """Points mmengine loggers' console handlers at the current stderr when theirs is closed.

    An ``MMLogger`` made while an earlier test captured the output keeps that test's (now
    closed) stream; a later message would print "--- Logging error ---" with a traceback.
    """
    import logging

    from mmengine.logging import MMLogger

    for logger in list(MMLogger._instance_dict.values()) + [logging.getLogger()]:
        for handler in getattr(logger, 'handlers', []):
            stream = getattr(handler, 'stream', None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, 'closed', False):
                handler.stream = sys.stderr  # setStream would flush the closed one
    yield


def load_tool(relpath: str) -> ModuleType:
    """Imports a script under ``tools/`` (not a package) as a fresh module."""
    path = REPO / 'tools' / relpath
    name = 'tool_' + relpath.removesuffix('.py').replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_toy_seg_dataset(root: Path, num_train: int = 8, num_val: int = 2, size: int = 32) -> Path:
    """Writes a 3-class set (background, square, disc) in mmseg's img_dir/ann_dir layout."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for split, count in (('train', num_train), ('val', num_val)):
        (root / 'img_dir' / split).mkdir(parents=True, exist_ok=True)
        (root / 'ann_dir' / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            label = np.zeros((size, size), np.uint8)
            x0, y0 = rng.integers(0, size // 2, 2)
            label[y0:y0 + size // 3, x0:x0 + size // 3] = 1
            cx, cy = rng.integers(size // 4, 3 * size // 4, 2)
            label[(xx - cx) ** 2 + (yy - cy) ** 2 < (size // 6) ** 2] = 2
            colours = np.array([[40, 40, 40], [220, 30, 30], [30, 200, 60]], np.float32)
            image = colours[label] + rng.normal(0, 10, (size, size, 3))
            Image.fromarray(image.clip(0, 255).astype(np.uint8)).save(
                root / 'img_dir' / split / f'{i:03d}.png')
            Image.fromarray(label).save(root / 'ann_dir' / split / f'{i:03d}.png')
    return root


@pytest.fixture(scope='session')
def toy_seg_root(tmp_path_factory) -> Path:
    return write_toy_seg_dataset(tmp_path_factory.mktemp('toy_seg'))


@pytest.fixture(scope='session')
def tool_env() -> dict[str, str]:
    """Environment for running tools/ scripts as subprocesses (the test's own interpreter)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), str(HELPERS), env.get('PYTHONPATH', '')])
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    env.pop('DENSE_CLIP_DEBUG', None)
    return env
