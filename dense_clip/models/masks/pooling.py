"""Mask pooling of dense CLIP features: one embedding per mask, all masks in one matmul.

The dense-feature recipe of CLIPSelf / F-ViT (Wu et al., "CLIPSelf: Vision Transformer Distills
Itself for Open-Vocabulary Dense Prediction", ICLR 2024) and of SAM + CLIP open-vocabulary
pipelines: a mask's embedding is the average of the dense joint-space features inside it, read
from one pass over the whole image, however many masks there are (instead of one CLIP pass per
masked crop).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['mask_pool', 'mask_weights']

_CHUNK = 32  # masks counted at once


def _nearest_index(size: int, cells: int) -> Tensor:
    """The cell of every pixel under nearest-neighbour upsampling of ``cells`` to ``size``
    (PyTorch's own rule: floor(i * (cells / size)) in float32)."""
    scale = torch.tensor(cells / size, dtype=torch.float32)
    return (torch.arange(size, dtype=torch.float32) * scale).floor().long().clamp(max=cells - 1)


def mask_weights(masks: Tensor, grid: tuple[int, int]) -> Tensor:
    """How many pixels of each mask fall in every feature cell.

    A cell's pixels are those nearest-neighbour upsampling assigns to it (PyTorch's
    ``F.interpolate(mode='nearest')`` rule), so weighting cells by these counts averages the
    features upsampled to the mask resolution over the mask's pixels, exactly, for any sizes.
    Counted straight from the boolean masks (one pass over their pixels, a chunk of masks at a
    time; no float copy of the masks).

    Args:
        masks: (N, H, W) bool masks at image resolution.
        grid: (h, w) of the feature map.

    Returns:
        (N, h*w) float32 pixel counts.
    """
    if masks.ndim != 3:
        raise ValueError(f'masks must be (N, H, W), got {tuple(masks.shape)}')
    n, height, width = masks.shape
    h, w = grid
    rows = _nearest_index(height, h)
    edges = torch.searchsorted(rows, torch.arange(h + 1)).tolist()  # first row of each cell
    cols = _nearest_index(width, w).to(masks.device)
    wide = torch.int16 if height // max(h, 1) < 2 ** 15 else torch.int32
    out = []
    for i in range(0, n, _CHUNK):
        chunk = masks[i:i + _CHUNK].bool()
        per_row = torch.stack([chunk[:, a:b].sum(dim=1, dtype=wide)  # (c, W) per cell row
                               for a, b in zip(edges[:-1], edges[1:])], dim=1)
        counts = per_row.new_zeros(chunk.shape[0], h, w, dtype=torch.float32)
        out.append(counts.index_add_(2, cols, per_row.float()).reshape(-1, h * w))
    if not out:
        return torch.zeros(0, h * w, dtype=torch.float32, device=masks.device)
    return torch.cat(out)


def mask_pool(features: Tensor, masks: Tensor, normalise_features: bool = False) -> Tensor:
    """Average dense features inside each mask, for every mask at once.

    Args:
        features: (D, h, w) dense features of ONE image (e.g. ``DenseOutput.dense[0]``: any
            last-block strategy, ViT or ResNet tower), covering the same field of view as the
            masks.
        masks: (N, H, W) bool masks at image resolution (any H, W: the features are read as
            if upsampled to it by nearest neighbour).
        normalise_features: L2-normalise each cell's feature before averaging (by default the
            raw features are averaged, as mask pooling in F-ViT / CLIPSelf does).

    Returns:
        (N, D) float32 pooled embeddings, not normalised: the mean over each mask's pixels of the
        nearest-upsampled features. An empty mask gives a zero row.
    """
    if features.ndim != 3:
        raise ValueError(f'features must be (D, h, w) for one image, got {tuple(features.shape)}')
    d, h, w = features.shape
    weights = mask_weights(masks, (h, w)).to(features.device)  # (N, h*w)
    flat = features.float().reshape(d, h * w).T  # (h*w, D)
    if normalise_features:
        flat = F.normalize(flat, dim=-1)
    total = weights.sum(dim=1, keepdim=True)
    return (weights @ flat) / total.clamp_min(torch.finfo(torch.float32).tiny)
