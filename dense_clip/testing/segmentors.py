"""Tiny open-vocabulary segmentors for tests (random tiny ViT CLIP, single template)."""

from __future__ import annotations

import copy
from typing import Any

import torch

from .configs import TINY_VIT_CFG

__all__ = ['TINY_CATSEG_AGGREGATOR', 'tiny_catseg_segmentor', 'tiny_segmentor']


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


#: Aggregator sizes of :func:`tiny_catseg_segmentor` (an 8x8 feature grid, windows of 4).
TINY_CATSEG_AGGREGATOR = dict(
    hidden_dim=16, num_layers=2, num_heads=2, window_size=4, pooling_size=(2, 2), pad_len=256,
    text_proj_dim=8, appearance_proj_dim=8, decoder_dims=(16, 16), decoder_guidance_dims=(8, 8),
    decoder_guidance_proj_dims=(4, 4))


def tiny_catseg_segmentor(seed: int = 0, **overrides: Any):
    """A ``CATSegSegmentor`` with a tiny random CLIP (TINY_VIT_CFG at 64 px: 8x8 grid), in eval
    mode, random aggregator weights (every parameter perturbed).

    Defaults: vocabulary ``['cat', 'dog, puppy', 'sky']``, the authors' template, guidance from
    block 0 for both decoder stages, slide inference on an 80x80 frame with 48 px windows (stride
    32: 2x2 windows and a global view). ``overrides`` replace top-level arguments; the
    ``aggregator``, ``text`` and ``test_cfg`` dicts are merged key by key.
    """
    from dense_clip.seg.catseg import CATSegSegmentor

    args: dict[str, Any] = dict(
        clip=dict(model_cfg=copy.deepcopy(TINY_VIT_CFG)), clip_resolution=64,
        guidance_layers=(0, 0), guidance_dims=(8, 8), aggregator=dict(TINY_CATSEG_AGGREGATOR),
        text=dict(vocabulary=['cat', 'dog, puppy', 'sky'], templates='catseg'),
        test_cfg=dict(mode='slide', slide_size=(80, 80), crop_size=48, overlap=0.333))
    for key, value in overrides.items():
        if key in ('aggregator', 'text', 'test_cfg') and isinstance(value, dict):
            args[key] = {**args[key], **value}
        else:
            args[key] = value
    torch.manual_seed(seed)
    model = CATSegSegmentor(**args)
    with torch.no_grad():
        for param in model.catseg.aggregator.parameters():
            param.add_(torch.randn_like(param) * 0.1)
        for param in model.catseg.guidance_upsample.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return model.eval()
