"""Picks the inferencer of a config's task (its ``default_scope``), importing it on demand.

Every inferencer is built as ``cls(config, clip=None, device='cpu')`` and called as
``inferencer(image_path, classes) -> result``; a result has ``render(alpha) -> (H, W, 3) uint8``
and ``legend() -> (headers, rows)``. The demos use only this interface.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

__all__ = ['INFERENCERS', 'build_inferencer', 'config_scope']

# default_scope -> 'module:Class' of its inferencer
INFERENCERS = {
    'mmseg': 'dense_clip.apis.inferencer:SegmentationInferencer',
    'mmdet': 'dense_clip.apis.det_inferencer:DetectionInferencer',
}


def config_scope(config: str | Path) -> str:
    """The ``default_scope`` of a config file (read without importing its modules)."""
    from dense_clip.engine.config import read_config

    if not Path(config).is_file():
        raise FileNotFoundError(f'config file not found: {config}')
    return read_config(str(config), import_custom_modules=False).get('default_scope')


def build_inferencer(config: str | Path, clip: dict | None = None, device: str = 'cpu') -> Any:
    """Builds the inferencer for ``config``'s task.

    Raises:
        FileNotFoundError: no such config.
        ValueError: a ``default_scope`` without an inferencer (the message lists the valid ones).
    """
    scope = config_scope(config)
    if scope not in INFERENCERS:
        raise ValueError(f'{config}: default_scope={scope!r}; inferencers exist for '
                         f'{", ".join(sorted(INFERENCERS))}')
    module, name = INFERENCERS[scope].split(':')
    return getattr(importlib.import_module(module), name)(config, clip=clip, device=device)
