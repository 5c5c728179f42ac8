"""Config loading for the tools: task detection and command-line overrides."""

from __future__ import annotations

import argparse
import os

from mmengine.config import Config, DictAction

__all__ = ['DictAction', 'TASKS', 'apply_dataset_vocabulary', 'load_config', 'parse_tool_args']

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
    apply_dataset_vocabulary(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', os.path.splitext(os.path.basename(path))[0])
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
