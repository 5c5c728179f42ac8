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

_CHUNK = 64  # masks converted to float at once


def mask_weights(masks: Tensor, grid: tuple[int, int]) -> Tensor:
    """Each mask's share of every feature cell.

    The masks are area-averaged onto the feature grid: a cell's weight is the fraction of its
    pixels inside the mask. When the image is a whole number of cells this is exactly the
    pixel average of the features upsampled by nearest neighbour; a mask smaller than a cell
    still gets the (small) weight of the cell it lies in.

    Args:
        masks: (N, H, W) bool or float in [0, 1], at image resolution.
        grid: (h, w) of the feature map.

    Returns:
        (N, h*w) float32 weights in [0, 1].
    """
    if masks.ndim != 3:
        raise ValueError(f'masks must be (N, H, W), got {tuple(masks.shape)}')
    n = masks.shape[0]
    # Masks are converted to float a chunk at a time: 1,000 full-resolution masks as float32
    # would take gigabytes.
    chunks = [F.adaptive_avg_pool2d(masks[i:i + _CHUNK, None].float(), tuple(grid))
              for i in range(0, n, _CHUNK)]
    if not chunks:
        return torch.zeros(0, grid[0] * grid[1], dtype=torch.float32, device=masks.device)
    return torch.cat(chunks).reshape(n, -1)


def mask_pool(features: Tensor, masks: Tensor, normalise_features: bool = False) -> Tensor:
    """Average dense features inside each mask, for every mask at once.

    Args:
        features: (D, h, w) dense features of ONE image (e.g. ``DenseOutput.dense[0]``: any
            last-block strategy, ViT or ResNet tower), covering the same field of view as the
            masks.
        masks: (N, H, W) bool or float masks at image resolution (any H, W: they are
            area-averaged onto the (h, w) grid).
        normalise_features: L2-normalise each cell's feature before averaging (by default the
            raw features are averaged, as mask pooling in F-ViT / CLIPSelf does).

    Returns:
        (N, D) float32 pooled embeddings, not normalised. An empty mask gives a zero row.
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
