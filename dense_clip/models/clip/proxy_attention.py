"""ProxyCLIP as a last-block strategy: attention weights from a separate vision model.

Lan et al., "ProxyCLIP: Proxy Attention Improves CLIP for Open-Vocabulary Segmentation", ECCV
2024. Details from the authors' public code (mc-lan/ProxyCLIP, ``open_clip/transformer.py``
``VisionTransformer.custom_attn`` and ``proxyclip_segmentor.py``):

* F = proxy patch features (B, C, H, W), L2-normalised over C; S = F Fᵀ (B, HW, HW).
* S' = γ (S − β · mean(S)) where the mean is GLOBAL per image, over both axes
  (``similarity.mean(dim=(1, 2), keepdim=True)``); β = 1.2, γ = 3.
* Entries of S' strictly below 0 are set to −inf, then softmax over the last axis. The same
  weights serve every head.
* CLIP's v: the last block's value projection of LN1(x) (bias included), per head, patch tokens
  only (CLS dropped), resized bilinearly (align_corners=False) from CLIP's grid to the proxy grid.
* Output = out_proj(attn · v): no residual, no FFN, then ln_post and proj; the dense map lives on
  the proxy's grid.

Differences, all documented: the authors' block returns patch tokens only; to keep the encoder's
CLS-first layout this strategy also returns a CLS token, out_proj(v_cls) (identity attention, no
residual; the authors compute none). A row of S' that is entirely below 0 (possible only when
the whole image is near-uniform, mean(S) > 1/β) would give NaNs in the authors' code; here such a
row keeps its diagonal (the patch attends to itself).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dense_clip.models.proxy import ProxyModel, build_proxy_model
from dense_clip.registry import LAST_BLOCKS

from .last_block import Grid, LastBlockStrategy
from .ops import apply_ffn, project_out, project_qkv

__all__ = ['ProxyCLIP', 'proxy_attention_weights', 'resize_values']


def proxy_attention_weights(feats: Tensor, beta: float = 1.2, gamma: float = 3.0,
                            batch_mean: bool = False) -> Tensor:
    """ProxyCLIP's attention weights from proxy features.

    Args:
        feats: (B, C, H, W) proxy features (normalised here over C).
        beta: weight of the global mean similarity subtracted.
        gamma: scale (inverse temperature).
        batch_mean: subtract the mean over the whole batch instead of each image's own
            (Trident's ``custom_attn``, which runs all windows of an image as one batch).

    Returns:
        (B, H*W, H*W) float32 row-stochastic weights.
    """
    f = F.normalize(feats.float().flatten(2), dim=1)  # (B, C, HW)
    sim = f.transpose(1, 2) @ f  # (B, HW, HW)
    mean = sim.mean() if batch_mean else sim.mean(dim=(1, 2), keepdim=True)
    sim = (sim - beta * mean) * gamma
    masked = sim < 0
    empty = masked.all(dim=-1, keepdim=True)  # guard: keep the diagonal of all-masked rows
    eye = torch.eye(sim.shape[-1], dtype=torch.bool, device=sim.device)
    masked = masked & ~(empty & eye)
    return sim.masked_fill(masked, float('-inf')).softmax(dim=-1)


def resize_values(v: Tensor, grid: Grid, size: Grid) -> Tensor:
    """Per-head patch values (B, heads, h*w, d) on ``grid`` -> (B, heads, H*W, d) on ``size``."""
    b, heads, n, d = v.shape
    if tuple(grid) == tuple(size):
        return v
    maps = v.transpose(-2, -1).reshape(b * heads, d, *grid)
    maps = F.interpolate(maps.float(), size=tuple(size), mode='bilinear', align_corners=False)
    return maps.to(v.dtype).reshape(b, heads, d, -1).transpose(-2, -1)


@LAST_BLOCKS.register_module()
class ProxyCLIP(LastBlockStrategy):
    """ProxyCLIP proxy attention (see the module docstring for the maths and sources).

    Args:
        proxy: a ``ProxyModel``, a registered proxy name or a config dict
            (``dict(type='dino_vitb8', pretrained=True)``); see ``dense_clip.models.proxy``.
        beta: β, default 1.2 (authors' ``ProxyCLIPSegmentation`` default).
        gamma: γ, default 3.0 (same source).
        batch_mean: β scales the mean similarity over the whole batch, not each image's
            (Trident's variant; its windows of one image form the batch).
        **kwargs: ``keep_residual`` / ``keep_ffn`` overrides (ablations; only possible when the
            proxy grid equals CLIP's).
    """

    keep_residual = False
    keep_ffn = False

    def __init__(self, proxy: ProxyModel | str | dict, beta: float = 1.2, gamma: float = 3.0,
                 batch_mean: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.proxy = build_proxy_model(proxy)
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.batch_mean = bool(batch_mean)

    def submodules(self) -> dict[str, nn.Module]:
        return {'proxy': self.proxy}

    def prepare(self, images: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            return {'proxy_feats': self.proxy(images)}

    def output_grid(self, grid: Grid, context: Any = None) -> Grid:
        if context is None:
            raise ValueError('ProxyCLIP needs the proxy features from prepare(images)')
        return tuple(context['proxy_feats'].shape[-2:])

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        raise NotImplementedError('ProxyCLIP weights come from proxy features, not q/k/v')

    def __call__(self, block: nn.Module, x: Tensor, grid: Grid, context: Any = None) -> Tensor:
        size = self.output_grid(grid, context)
        feats = context['proxy_feats']
        if feats.shape[0] != x.shape[0]:
            raise ValueError(f'proxy features for {feats.shape[0]} images, tokens for {x.shape[0]}')
        _, _, v = project_qkv(block, x)  # (B, heads, 1 + h*w, d)
        weights = proxy_attention_weights(feats, self.beta, self.gamma,
                                          self.batch_mean).to(v.dtype)
        patches = resize_values(v[:, :, 1:], grid, size)  # (B, heads, H*W, d)
        mixed = torch.cat([v[:, :, :1], weights[:, None] @ patches], dim=2)
        out = project_out(block, mixed)
        if self.keep_residual:
            if tuple(size) != tuple(grid):
                raise ValueError('keep_residual needs the proxy grid to equal the CLIP grid')
            out = x + out
        if self.keep_ffn:
            out = apply_ffn(block, out)
        return out

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(proxy={type(self.proxy).__name__}, beta={self.beta}, '
                f'gamma={self.gamma}, batch_mean={self.batch_mean})')
