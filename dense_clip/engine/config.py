"""Config loading for the tools: task detection, command-line overrides, early checks."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
from collections.abc import Sequence

from mmengine.config import Config
from mmengine.config import DictAction as _MMEngineDictAction
from mmengine.logging import print_log

from .config_check import check_config_syntax, check_hooks, check_model_settings, unread_keys

__all__ = ['DictAction', 'TASKS', 'apply_dataset_vocabulary', 'check_model_task', 'load_config',
           'parse_tool_args', 'read_config']

# default_scope of a config -> the task package dense_clip wires it to.
TASKS = {'mmseg': 'segmentation', 'mmdet': 'detection'}
# scope -> (its model registry, the dense_clip package that fills it).
_TASK_MODELS = {'mmseg': ('mmseg.registry', 'dense_clip.seg'),
                'mmdet': ('mmdet.registry', 'dense_clip.det')}


def _registered(scope: str, name: str) -> bool:
    registry_module, package = _TASK_MODELS[scope]
    importlib.import_module(package)
    return importlib.import_module(registry_module).MODELS.get(name) is not None


def check_model_task(cfg: Config, path: str) -> None:
    """Fails clearly when a config's model belongs to the other task.

    A detection config (``default_scope='mmdet'``) whose model is a segmentor, or the reverse,
    would otherwise fail deep inside the Runner. Only then is the other task's package imported
    (to name the mistake); a model unknown to both is left to the Runner's own error.

    Raises:
        ValueError: the model type is registered for the other task only.
    """
    model = cfg.get('model')
    name = model.get('type') if isinstance(model, dict) else None
    scope = cfg.get('default_scope')
    if not isinstance(name, str) or scope not in _TASK_MODELS or _registered(scope, name):
        return
    other = next(s for s in _TASK_MODELS if s != scope)
    try:
        belongs_to_other = _registered(other, name)
    except ImportError:  # the other task's framework is not installed
        return
    if belongs_to_other:
        raise ValueError(
            f'{path}: model {name!r} is a {TASKS[other]} model ({other}) but the config is a '
            f"{TASKS[scope]} config (default_scope={scope!r}); use a {TASKS[other]} config for "
            f'it, or a {TASKS[scope]} model here')


class DictAction(_MMEngineDictAction):
    """mmengine's ``KEY=VALUE`` action, with a clear error for an item that is not one."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[str] | None, option_string: str | None = None) -> None:
        for item in [values] if isinstance(values, str) else values or []:
            if '=' not in item or not item.split('=', 1)[0].strip():
                raise ValueError(f'{option_string or self.dest} {item!r} is not KEY=VALUE '
                                 '(e.g. train_cfg.max_iters=10)')
        super().__call__(parser, namespace, values, option_string)


def read_config(path: str, import_custom_modules: bool = True) -> Config:
    """Reads a config file, naming the file and line of a syntax error.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a syntax error in ``path`` or one of its ``_base_`` files.
        ValueError: the config's ``default_scope`` is not one dense_clip runs, or its model
            belongs to the other task (see :func:`check_model_task`).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    check_config_syntax(path)
    try:
        return Config.fromfile(path, import_custom_modules=import_custom_modules)
    except SyntaxError as err:  # a base file the check could not reach (mmengine names it)
        raise ValueError(f'{path}: {err}') from None


def load_config(path: str, overrides: dict | None = None, work_dir: str | None = None) -> Config:
    """Reads a config, applies ``--cfg-options`` overrides, sets its work_dir, checks it.

    Top-level keys that nothing reads are logged as warnings; ``model`` and hook settings are
    checked (``dense_clip.engine.config_check``) before anything is built.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a syntax error (file and line named), a ``default_scope`` dense_clip does
            not run, or a model or hook setting that would fail later (key named).
    """
    cfg = read_config(path)
    before = set(cfg.keys())
    if overrides:
        cfg.merge_from_dict(overrides)
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(
            f'{path}: default_scope={scope!r}; dense_clip configs use one of {sorted(TASKS)}'
        )
    apply_dataset_vocabulary(cfg)
    check_model_task(cfg, path)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', os.path.splitext(os.path.basename(path))[0])
    for message in unread_keys(cfg, before | {'work_dir'}, overrides):
        print_log(message, logger='current', level=logging.WARNING)
    check_model_settings(cfg)
    check_hooks(cfg)
    return cfg


def apply_dataset_vocabulary(cfg: Config) -> Config:
    """Uses the dataset config's classes as the model's vocabulary where none is set.

    Segmentation dataset bases name their class list (``classnames = 'voc21'``); a model whose
    ``text.vocabulary`` is None (the default of every method base) segments those classes.
    Detection dataset bases name a class split (``class_split = 'ov_coco'``: classes plus base /
    novel); a model whose ``text.class_split`` is None gets it. A setting in the model config
    wins. Returns ``cfg`` (changed in place).
    """
    model = cfg.get('model')
    text = model.get('text') if isinstance(model, dict) else None
    if not isinstance(text, dict):
        return cfg
    classnames = cfg.get('classnames')
    if classnames is not None and text.get('vocabulary') is None:
        text['vocabulary'] = classnames
    class_split = cfg.get('class_split')
    if class_split is not None and 'class_split' in text and text.get('class_split') is None \
            and text.get('vocabulary') is None:
        text['class_split'] = class_split
    return cfg


def parse_tool_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Adds the options tools/train.py and tools/test.py share, parses, exports LOCAL_RANK.

    The caller adds its positional arguments (config first) and its own options beforehand.
    """
    parser.add_argument('--work-dir', help='where logs (and checkpoints) go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_iters=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args
