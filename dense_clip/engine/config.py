"""Config loading for the tools: task detection and command-line overrides."""

from __future__ import annotations

import os

from mmengine.config import Config, DictAction

__all__ = ['DictAction', 'TASKS', 'load_config']

# default_scope of a config -> the task package dense_clip wires it to.
TASKS = {'mmseg': 'segmentation', 'mmdet': 'detection'}


def load_config(path: str, overrides: dict | None = None, work_dir: str | None = None) -> Config:
    """Reads a config, applies ``--cfg-options`` overrides and sets its work_dir.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the config's ``default_scope`` is not one dense_clip runs.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if overrides:
        cfg.merge_from_dict(overrides)
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(
            f'{path}: default_scope={scope!r}; dense_clip configs use one of {sorted(TASKS)}'
        )
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', os.path.splitext(os.path.basename(path))[0])
    return cfg
