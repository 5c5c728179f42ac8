"""A tiny open-vocabulary segmentor for tests (random tiny ViT CLIP, single template)."""

from __future__ import annotations

import copy
from typing import Any

import torch

from .configs import TINY_VIT_CFG

__all__ = ['tiny_segmentor']


def tiny_segmentor(seed: int = 0, **overrides: Any):
    """An ``OpenVocabSegmentor`` with a tiny random CLIP, in eval mode.

    Defaults: vocabulary ``['cat', 'dog, puppy', 'sky']``, last block 'maskclip', template
    'single', 32 px windows with stride 16, no text cache. ``overrides`` replace top-level
    arguments; the ``encoder``, ``text`` and ``test_cfg`` dicts are merged key by key.
    """
    from dense_clip.seg.segmentors import OpenVocabSegmentor

    args: dict[str, Any] = dict(
        clip=dict(model_cfg=copy.deepcopy(TINY_VIT_CFG)),
        encoder=dict(last_block='maskclip'),
        text=dict(vocabulary=['cat', 'dog, puppy', 'sky'], templates='single', cache_dir=False),
        test_cfg=dict(crop_size=32, stride=16),
    )
    for key, value in overrides.items():
        if key in ('encoder', 'text', 'test_cfg') and isinstance(value, dict):
            args[key] = {**args[key], **value}
        else:
            args[key] = value
    torch.manual_seed(seed)
    return OpenVocabSegmentor(**args).eval()
