"""CAT-Seg checkpoints in the authors' exact key layout, written without their code, for tests.

The layout is the state dict of the authors' ``CATSeg`` meta-architecture (KU-CVLAB/CAT-Seg
``cat_seg/cat_seg_model.py``) as a detectron2 checkpoint stores it: ``{'model': state_dict}`` with
``sem_seg_head.predictor.clip_model.*`` (their ``third_party/model_vpt.py`` CLIP: OpenAI names,
attention as separate ``q_proj_weight`` / ``k_proj_weight`` / ``v_proj_weight``),
``sem_seg_head.predictor.transformer.*`` (``modeling/transformer/model.py``, ``Aggregator``,
including the shifted blocks' ``attn_mask`` buffers) and ``upsample1/2.*``. It is written here from
the architecture, independently of ``dense_clip.models.catseg.convert``, so the converter is
tested against an independent description (and the regression data in
``tests/data/regression/catseg_authors.*`` was produced by the authors' own code on the same
layout).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from dense_clip.models.catseg.spatial import shifted_window_mask

from .seeded import seeded_tensors

__all__ = ['AuthorsCATSegSizes', 'authors_catseg_layout', 'seeded_authors_catseg']

CLIP = 'sem_seg_head.predictor.clip_model.'
AGG = 'sem_seg_head.predictor.transformer.'


@dataclass(frozen=True)
class AuthorsCATSegSizes:
    """Sizes of an authors' CAT-Seg (defaults: a tiny one).

    Attributes mirror the authors' CLIP (``model_vpt.CLIP``) and ``Aggregator`` arguments.
    """

    embed_dim: int = 32
    image_resolution: int = 32
    vision_layers: int = 10
    vision_width: int = 128
    patch: int = 8
    text_width: int = 64
    text_layers: int = 2
    context_length: int = 77
    vocab_size: int = 49408
    num_templates: int = 1
    hidden_dim: int = 32
    num_layers: int = 2
    text_proj_dim: int = 16
    appearance_proj_dim: int = 16
    decoder_dims: tuple[int, int] = (32, 16)
    decoder_guidance_dims: tuple[int, int] = (24, 16)
    decoder_guidance_proj_dims: tuple[int, int] = (8, 8)
    feature_grid: int = 24
    window_size: int = 12


def _block(prefix: str, width: int) -> dict[str, tuple[int, ...]]:
    shapes = {f'attn.{n}_proj_weight': (width, width) for n in 'qkv'}
    shapes.update({
        'attn.in_proj_bias': (3 * width,),
        'attn.out_proj.weight': (width, width), 'attn.out_proj.bias': (width,),
        'ln_1.weight': (width,), 'ln_1.bias': (width,),
        'mlp.c_fc.weight': (4 * width, width), 'mlp.c_fc.bias': (4 * width,),
        'mlp.c_proj.weight': (width, 4 * width), 'mlp.c_proj.bias': (width,),
        'ln_2.weight': (width,), 'ln_2.bias': (width,),
    })
    return {prefix + k: v for k, v in shapes.items()}


def _linear(name: str, out_dim: int, in_dim: int) -> dict[str, tuple[int, ...]]:
    return {f'{name}.weight': (out_dim, in_dim), f'{name}.bias': (out_dim,)}


def _norm(name: str, dim: int) -> dict[str, tuple[int, ...]]:
    return {f'{name}.weight': (dim,), f'{name}.bias': (dim,)}


def _conv(name: str, out_dim: int, in_dim: int, k: int, bias: bool = True,
          transposed: bool = False) -> dict[str, tuple[int, ...]]:
    shapes = {f'{name}.weight': (in_dim, out_dim, k, k) if transposed else (out_dim, in_dim, k, k)}
    if bias:
        shapes[f'{name}.bias'] = (out_dim,)
    return shapes


def authors_catseg_layout(s: AuthorsCATSegSizes = AuthorsCATSegSizes()) -> dict[str, Tensor]:
    """The authors' checkpoint layout: zero tensors by key (masks filled), for the given sizes."""
    shapes: dict[str, tuple[int, ...]] = {}
    w, tw, e = s.vision_width, s.text_width, s.embed_dim
    grid = s.image_resolution // s.patch
    shapes.update({
        'positional_embedding': (s.context_length, tw), 'text_projection': (tw, e),
        'logit_scale': (), 'token_embedding.weight': (s.vocab_size, tw),
        'ln_final.weight': (tw,), 'ln_final.bias': (tw,),
        'visual.class_embedding': (w,), 'visual.positional_embedding': (grid * grid + 1, w),
        'visual.proj': (w, e), 'visual.conv1.weight': (w, 3, s.patch, s.patch),
        'visual.ln_pre.weight': (w,), 'visual.ln_pre.bias': (w,),
        'visual.ln_post.weight': (w,), 'visual.ln_post.bias': (w,),
    })
    for i in range(s.text_layers):
        shapes.update(_block(f'transformer.resblocks.{i}.', tw))
    for i in range(s.vision_layers):
        shapes.update(_block(f'visual.transformer.resblocks.{i}.', w))
    shapes = {CLIP + k: v for k, v in shapes.items()}

    h, tp, ap = s.hidden_dim, s.text_proj_dim, s.appearance_proj_dim
    agg: dict[str, tuple[int, ...]] = {}
    agg.update(_conv('conv1', h, s.num_templates, 7))
    agg.update(_conv('guidance_projection.0', ap, e, 3))
    agg.update(_linear('text_guidance_projection.0', tp, e))
    for j, (g, gp) in enumerate(zip(s.decoder_guidance_dims, s.decoder_guidance_proj_dims)):
        agg.update(_conv(f'decoder_guidance_projection.{j}.0', gp, g, 3))
    for layer in range(s.num_layers):
        swin = f'layers.{layer}.swin_block.'
        for block in ('block_1', 'block_2'):
            p = f'{swin}{block}.'
            agg.update(_norm(p + 'norm1', h))
            agg.update(_linear(p + 'attn.q', h, h + ap))
            agg.update(_linear(p + 'attn.k', h, h + ap))
            agg.update(_linear(p + 'attn.v', h, h))
            agg.update(_linear(p + 'attn.proj', h, h))
            agg.update(_norm(p + 'norm2', h))
            agg.update(_linear(p + 'mlp.fc1', 4 * h, h))
            agg.update(_linear(p + 'mlp.fc2', h, 4 * h))
        agg.update(_norm(swin + 'guidance_norm', ap))
        cls = f'layers.{layer}.attention.'
        agg.update(_linear(cls + 'attention.q', h, h + tp))
        agg.update(_linear(cls + 'attention.k', h, h + tp))
        agg.update(_linear(cls + 'attention.v', h, h))
        agg.update(_linear(cls + 'MLP.0', 4 * h, h))
        agg.update(_linear(cls + 'MLP.2', h, 4 * h))
        agg.update(_norm(cls + 'norm1', h))
        agg.update(_norm(cls + 'norm2', h))
        agg[cls + 'padding_tokens'] = (1, 1, h)
        agg[cls + 'padding_guidance'] = (1, 1, tp)
    previous = h
    for j, (dim, gp) in enumerate(zip(s.decoder_dims, s.decoder_guidance_proj_dims)):
        p = f'decoder{j + 1}.'
        agg.update(_conv(p + 'up', previous - gp, previous, 2, transposed=True))
        agg.update(_conv(p + 'conv.double_conv.0', dim, previous, 3, bias=False))
        agg.update(_norm(p + 'conv.double_conv.1', dim))
        agg.update(_conv(p + 'conv.double_conv.3', dim, dim, 3, bias=False))
        agg.update(_norm(p + 'conv.double_conv.4', dim))
        previous = dim
    agg.update(_conv('head', 1, previous, 3))
    shapes.update({AGG + k: v for k, v in agg.items()})
    for j, g in enumerate(s.decoder_guidance_dims):
        shapes.update(_conv(f'upsample{j + 1}', g, w, 2 ** (j + 1), transposed=True))

    layout = {k: torch.zeros(v) for k, v in shapes.items()}
    if s.feature_grid > s.window_size:  # the authors' shifted blocks store their mask
        mask = shifted_window_mask(s.feature_grid, s.feature_grid, s.window_size,
                                   s.window_size // 2)
        for layer in range(s.num_layers):
            layout[f'{AGG}layers.{layer}.swin_block.block_2.attn_mask'] = mask.clone()
    return layout


def seeded_authors_catseg(s: AuthorsCATSegSizes = AuthorsCATSegSizes(),
                          seed: int = 0) -> dict[str, Tensor]:
    """An authors'-layout state dict with seeded values (``seeded_tensors``; masks kept, the
    logit scale 1 as their ``CLIP`` initialises it)."""
    layout = authors_catseg_layout(s)
    layout[CLIP + 'logit_scale'] = torch.ones(())
    state = seeded_tensors(layout, seed)
    state.update({k: v for k, v in layout.items() if k.endswith('attn_mask')})
    return state
