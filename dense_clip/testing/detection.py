"""Running real detection configs on tiny data: the same pipeline, datasets pointed at a small
synthetic set, tiny random CLIPs, two training iterations.

:func:`tiny_det_config` rewrites a loaded config in place of the data and the sizes only; the
model, its heads and the pipeline's transforms stay the config's own, so a test that trains and
tests the result exercises every registered piece the config names.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
from mmengine.config import Config

from .configs import TINY_VIT_CFG, shrink_model_config

__all__ = ['TINY_PYRAMID_VIT_CFG', 'tiny_det_config', 'write_tiny_det_data']

#: Image side of the tiny detection set.
TINY_SIZE = 64
#: A tiny ViT with ViT-B/16's patch size (F-ViT's anchors and RoI strides assume 16) and 4
#: blocks (ViT-B's pyramid blocks 3, 5, 7, 11 map onto 1, 1, 2, 3).
TINY_PYRAMID_VIT_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=4, width=32, patch_size=16, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
)
_SCALE_KEYS = ('scale', 'crop_size', 'size')


def write_tiny_det_data(root: str | Path, n_train: int = 4, n_val: int = 2) -> Path:
    """Writes a tiny synthetic detection set (64 px) plus a COCO-format proposal file
    (``proposals_val.json``: every ground-truth box jittered, and two random boxes per image)."""
    from dense_clip.synthetic.detection import write_detection_dataset

    root = Path(root)
    write_detection_dataset(root, seed=0, n_train=n_train, n_val=n_val, size=TINY_SIZE)
    coco = json.loads((root / 'annotations' / 'instances_val.json').read_text())
    rng = np.random.default_rng(0)
    proposals = []
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        jitter = rng.uniform(-1.5, 1.5, 4)
        proposals.append(dict(image_id=ann['image_id'], score=float(rng.uniform(0.5, 1)),
                              bbox=[x + jitter[0], y + jitter[1], w + jitter[2], h + jitter[3]]))
    for image in coco['images']:
        for _ in range(2):
            x0, y0 = rng.uniform(0, TINY_SIZE / 2, 2)
            proposals.append(dict(image_id=image['id'], score=float(rng.uniform(0, 0.5)),
                                  bbox=[float(x0), float(y0), 12.0, 16.0]))
    (root / 'proposals_val.json').write_text(json.dumps(proposals))
    return root


def _shrink_scales(node: Any, crop_size: int) -> None:
    """Every resize / crop / pad size in a pipeline becomes the tiny image size; CLIPSelf's
    teacher crops become the tiny CLIP's input size."""
    if isinstance(node, dict):
        if node.get('type') == 'CLIPSelfCrops':
            node['crop_size'] = crop_size
        for key in _SCALE_KEYS:
            if key in node and isinstance(node[key], (tuple, list)) and len(node[key]) == 2 \
                    and all(isinstance(v, int) for v in node[key]):
                node[key] = (TINY_SIZE, TINY_SIZE)
        for value in node.values():
            _shrink_scales(value, crop_size)
    elif isinstance(node, list):
        for value in node:
            _shrink_scales(value, crop_size)


def _dataset(dataset: dict, root: Path, split: str) -> dict:
    dataset = copy.deepcopy(dataset)
    dataset.pop('indices', None)
    kind = dataset.get('type')
    lvis = 'LVIS' in str(kind)
    dataset.update(data_root=str(root) + '/',
                   data_prefix=dict(img='images/' if lvis else f'images/{split}/'),
                   ann_file=f"annotations/{'lvis' if lvis else 'instances'}_{split}.json")
    if 'class_split' in dataset:
        dataset['class_split'] = 'synthetic'
    if dataset.get('proposal_file'):
        dataset['proposal_file'] = str(root / 'proposals_val.json')
    return dataset


def tiny_det_config(cfg: Config, data_root: str | Path, work_dir: str | Path,
                    clip_cfg: dict | None = None) -> Config:
    """A copy of a detection config that trains 2 iterations and tests on tiny data.

    Args:
        cfg: a loaded detection config (``default_scope='mmdet'``).
        data_root: a folder written by :func:`write_tiny_det_data`.
        work_dir: where the run writes.
        clip_cfg: the tiny CLIP (default ``TINY_VIT_CFG``, or :data:`TINY_PYRAMID_VIT_CFG` for
            F-ViT's backbone, whose pyramid strides assume patch 16; a tiny ResNet for
            RegionCLIP).

    Returns:
        The rewritten config: tiny CLIP (pyramid indices mapped onto its depth), the synthetic
        class split (24 classes), 64 px pipelines, batch 2, 2 iterations, no LR schedule.
    """
    cfg = copy.deepcopy(cfg)
    root = Path(data_root)
    if clip_cfg is None:
        pyramid = cfg.model.get('backbone', {}).get('type') == 'CLIPViTPyramid'
        clip_cfg = TINY_PYRAMID_VIT_CFG if pyramid else TINY_VIT_CFG
    model = shrink_model_config(cfg.model, clip_cfg)  # also maps the pyramid's block indices
    for head in ('bbox_head', 'mask_head'):
        part = model.get('roi_head', {}).get(head)
        if isinstance(part, dict) and 'num_classes' in part:
            part['num_classes'] = 24
    if isinstance(model.get('text'), dict):
        model['text'].update(class_split='synthetic', vocabulary=None, cache_dir=False)
    cfg.model = model
    cfg.class_split = 'synthetic'
    cfg.pop('classnames', None)
    cfg.work_dir = str(work_dir)
    for split, loader_name in (('train', 'train_dataloader'), ('val', 'val_dataloader'),
                               ('val', 'test_dataloader')):
        loader = cfg.get(loader_name)
        if not loader:
            continue
        loader.update(batch_size=2 if split == 'train' else 1, num_workers=0,
                      persistent_workers=False)
        loader.pop('batch_sampler', None)
        loader['dataset'] = _dataset(loader['dataset'], root, split)
        _shrink_scales(loader['dataset'].get('pipeline', []),
                       clip_cfg['vision_cfg']['image_size'])
    for name in ('val_evaluator', 'test_evaluator'):
        evaluator = cfg.get(name)
        if isinstance(evaluator, dict) and 'ann_file' in evaluator:
            lvis = 'LVIS' in str(evaluator.get('type'))
            evaluator['ann_file'] = str(root / 'annotations' /
                                        f"{'lvis' if lvis else 'instances'}_val.json")
    if cfg.get('train_dataloader'):
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=1000)
        cfg.param_scheduler = []
        cfg.auto_scale_lr = dict(enable=False)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
        cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
        cfg.log_processor = dict(type='LogProcessor', window_size=1, by_epoch=False)
    return cfg
