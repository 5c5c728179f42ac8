"""Segment Anything models built from segment_anything's own modules, and checked weight loading.

Kirillov et al., "Segment Anything", ICCV 2023. The architectures are those of the authors'
``segment_anything/build_sam.py`` (``build_sam_vit_b`` / ``_l`` / ``_h``: a ViT image encoder at
1024 px with patch 16, window 14 and relative positions; a 256-wide prompt encoder and a
two-way-transformer mask decoder with three multimask outputs), assembled here from the same
modules (``ImageEncoderViT``, ``PromptEncoder``, ``MaskDecoder``, ``TwoWayTransformer``, ``Sam``)
so that a tiny random model for tests is one dict of sizes. The released checkpoints
(``sam_vit_b_01ec64.pth``, ``sam_vit_l_0b3195.pth``, ``sam_vit_h_4b8939.pth``; model-zoo names
``sam_vit_b``, ``sam_vit_l``, ``sam_vit_h``) are plain state dicts read weights-only; a
checkpoint of another model type than the one built is refused with an error naming both.
"""

from __future__ import annotations

import os
import re
from functools import partial
from typing import Any

from torch import Tensor, nn

__all__ = ['SAM_MODEL_TYPES', 'TINY_SAM', 'build_sam', 'describe_sam_state',
           'load_sam_weights']

#: Image-encoder sizes of the released models (segment_anything ``build_sam.py``).
SAM_MODEL_TYPES: dict[str, dict[str, Any]] = {
    'vit_b': dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    'vit_l': dict(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
    'vit_h': dict(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
}
# Everything else the released models share (same source).
_COMMON = dict(img_size=1024, patch_size=16, window_size=14, prompt_dim=256, mask_in_chans=16,
               decoder_depth=2, decoder_mlp_dim=2048, decoder_heads=8, iou_hidden_dim=256)
#: A tiny random SAM for tests: 64 px input, 8x8 embedding grid, 32 channels.
TINY_SAM: dict[str, Any] = dict(img_size=64, patch_size=8, embed_dim=32, depth=2, num_heads=2,
                                global_attn_indexes=(1,), window_size=4, prompt_dim=32,
                                mask_in_chans=8, decoder_depth=2, decoder_mlp_dim=64,
                                decoder_heads=2, iou_hidden_dim=32)
# SAM's pixel statistics in 0-255 space (build_sam.py).
SAM_PIXEL_MEAN = (123.675, 116.28, 103.53)
SAM_PIXEL_STD = (58.395, 57.12, 57.375)


def _settings(model_type: str, tiny: bool, arch: dict | None) -> dict[str, Any]:
    if model_type not in SAM_MODEL_TYPES:
        raise ValueError(f'unknown SAM model type {model_type!r}; valid: '
                         f'{sorted(SAM_MODEL_TYPES)}')
    settings = {**_COMMON, **SAM_MODEL_TYPES[model_type]}
    if tiny:
        settings.update(TINY_SAM)
    unknown = sorted(set(arch or {}) - set(settings))
    if unknown:
        raise ValueError(f'unknown SAM architecture setting(s) {unknown}; valid: '
                         f'{sorted(settings)}')
    settings.update(arch or {})
    return settings


def build_sam(model_type: str = 'vit_b', tiny: bool = False, arch: dict | None = None) -> nn.Module:
    """Builds a segment_anything ``Sam`` with random weights (eval mode).

    Args:
        model_type: 'vit_b', 'vit_l' or 'vit_h'.
        tiny: use :data:`TINY_SAM` sizes (tests; 64 px input).
        arch: overrides of single sizes (keys of :data:`TINY_SAM`).

    Returns:
        ``segment_anything.modeling.Sam`` taking HWC uint8 images through its predictor.

    Raises:
        ValueError: unknown model type or size key (the valid ones are listed).
    """
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    s = _settings(model_type, tiny, arch)
    grid = s['img_size'] // s['patch_size']
    encoder = ImageEncoderViT(
        img_size=s['img_size'], patch_size=s['patch_size'], embed_dim=s['embed_dim'],
        depth=s['depth'], num_heads=s['num_heads'], mlp_ratio=4, out_chans=s['prompt_dim'],
        qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6), use_rel_pos=True,
        window_size=s['window_size'], global_attn_indexes=tuple(s['global_attn_indexes']))
    prompts = PromptEncoder(embed_dim=s['prompt_dim'], image_embedding_size=(grid, grid),
                            input_image_size=(s['img_size'], s['img_size']),
                            mask_in_chans=s['mask_in_chans'])
    decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=s['decoder_depth'], embedding_dim=s['prompt_dim'],
                                      mlp_dim=s['decoder_mlp_dim'], num_heads=s['decoder_heads']),
        transformer_dim=s['prompt_dim'], iou_head_depth=3, iou_head_hidden_dim=s['iou_hidden_dim'])
    sam = Sam(image_encoder=encoder, prompt_encoder=prompts, mask_decoder=decoder,
              pixel_mean=list(SAM_PIXEL_MEAN), pixel_std=list(SAM_PIXEL_STD))
    return sam.eval()


_BLOCK_KEY = re.compile(r'^image_encoder\.blocks\.(\d+)\.')


def describe_sam_state(state: dict[str, Tensor]) -> str:
    """Names the model type of a SAM state dict: 'vit_b', ..., or its sizes when none fits.

    Reads the image encoder's width (``blocks.0.norm1.weight``) and its number of blocks.

    Raises:
        ValueError: the state dict holds no SAM image encoder.
    """
    norm = state.get('image_encoder.blocks.0.norm1.weight')
    if norm is None:
        raise ValueError('no SAM image encoder in it (no image_encoder.blocks.0.norm1.weight)')
    width = int(norm.shape[0])
    depth = len({int(m.group(1)) for key in state if (m := _BLOCK_KEY.match(key))})
    return _name_of(width, depth)


def _name_of(width: int, depth: int) -> str:
    for name, sizes in SAM_MODEL_TYPES.items():
        if (sizes['embed_dim'], sizes['depth']) == (width, depth):
            return f'{name} (width {width}, {depth} blocks)'
    return f'an unreleased size (width {width}, {depth} blocks)'


def _describe_model(sam: nn.Module) -> str:
    encoder = sam.image_encoder
    return _name_of(int(encoder.patch_embed.proj.out_channels), len(encoder.blocks))


def load_sam_weights(sam: nn.Module, path: str | os.PathLike) -> None:
    """Loads a SAM checkpoint (the authors' state-dict layout) into ``sam``, strictly.

    Args:
        sam: a model from :func:`build_sam`.
        path: a ``.pth`` state dict (read with ``weights_only=True``), a ``.safetensors`` file,
            or a model-zoo name such as ``'zoo://sam_vit_b'``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file holds no SAM, or a SAM of another model type than ``sam`` (the
            message names both), or its keys do not match.
    """
    from dense_clip.models.proxy.base import read_weights

    if not str(path).startswith('zoo://') and not os.path.isfile(path):
        raise FileNotFoundError(f'SAM checkpoint not found: {path}')
    try:
        state = read_weights(path)
    except Exception as error:  # a truncated or foreign file: say which one
        raise ValueError(f'cannot read SAM checkpoint {path}: {error}') from error
    if not isinstance(state, dict):
        raise ValueError(f'SAM checkpoint {path} holds a {type(state).__name__}, not a state dict')
    try:
        found = describe_sam_state(state)
    except ValueError as error:
        raise ValueError(f'SAM checkpoint {path}: {error}') from None
    wanted = _describe_model(sam)
    if found != wanted:
        raise ValueError(f'SAM checkpoint {path} holds a {found} model, but the config builds '
                         f'{wanted}: set model_type to match the checkpoint')
    missing, unexpected = sam.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'SAM checkpoint {path} does not match the model: missing '
                         f'{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}')
    sam.eval()
