"""Mask pooling: the mean of a dense feature map inside each of many masks, one matmul per image.

Used by mask classification (SAM masks classified with dense CLIP features: one CLIP pass for
every mask of an image instead of one pass per mask crop) and by :class:`RegionEncoder` for
masks. CLIPSelf's ``mask_pool`` (wusize/CLIPSelf, ``src/open_clip/transformer.py``) averages the
L2-normalised dense features over the grid cells of a binary mask given on the patch grid; here
masks come at image resolution and each grid cell is weighted by the fraction of its pixels the
mask covers (area downsampling), which equals the authors' mean for masks aligned to the grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['mask_pool', 'masks_to_grid']


def masks_to_grid(masks: Tensor, grid: tuple[int, int], stride: int | None = None) -> Tensor:
    """Area weights of (M, H, W) masks on a feature grid.

    Args:
        masks: (M, H, W) bool or float masks in [0, 1], at the resolution of the encoder input.
        grid: (h, w) of the feature map.
        stride: pixels per grid cell when the encoder drops the remainder (a ViT patch
            convolution covers only the first h * stride rows); None: adaptive area pooling
            over the whole mask (strided CNNs whose grid is not a plain floor).

    Returns:
        (M, h, w) float32: the covered fraction of each cell.
    """
    masks = masks.float()
    h, w = grid
    if stride is not None and h * stride <= masks.shape[-2] and w * stride <= masks.shape[-1]:
        masks = masks[:, :h * stride, :w * stride]
        return F.avg_pool2d(masks[:, None], stride)[:, 0]
    return F.adaptive_avg_pool2d(masks[:, None], (h, w))[:, 0]


def mask_pool(dense: Tensor, masks: Sequence[Tensor], image_size: tuple[int, int],
              stride: int | None = None, normalize: bool = True) -> Tensor:
    """Mask-pooled embeddings for every mask of every image.

    Args:
        dense: (B, D, h, w) dense features of the B images (a ``DenseOutput.dense``).
        masks: B tensors (M_i, H, W), bool or float in [0, 1], at the encoder input size
            ``image_size``; M_i may be 0.
        image_size: (H, W) of the (padded) encoder input the masks refer to.
        stride: see :func:`masks_to_grid`.
        normalize: L2-normalise the dense features per cell before averaging (CLIPSelf does).

    Returns:
        (sum M_i, D) float32 embeddings (not normalised), masks in image order.

    Raises:
        ValueError: a mask count that does not match the batch, masks of another size than
            ``image_size``, or a mask with no pixel (its mean is undefined).
    """
    if dense.ndim != 4:
        raise ValueError(f'dense must be (B, D, h, w), got {tuple(dense.shape)}')
    if len(masks) != dense.shape[0]:
        raise ValueError(f'got masks for {len(masks)} images but dense features of '
                         f'{dense.shape[0]}')
    feats = dense.float()
    if normalize:
        feats = F.normalize(feats, dim=1)
    height, width = int(image_size[0]), int(image_size[1])
    pooled = []
    for i, image_masks in enumerate(masks):
        if image_masks.ndim != 3 or tuple(image_masks.shape[-2:]) != (height, width):
            raise ValueError(f'masks of image {i} have shape {tuple(image_masks.shape)}; '
                             f'expected (M, {height}, {width}), the size of the encoder input')
        if image_masks.shape[0] == 0:
            continue
        weights = masks_to_grid(image_masks.to(feats.device), feats.shape[-2:], stride)
        weights = weights.flatten(1)  # (M, h*w)
        area = weights.sum(dim=1, keepdim=True)
        empty = torch.nonzero(area[:, 0] <= 0)
        if empty.numel():
            raise ValueError(f'mask {int(empty[0, 0])} of image {i} is empty (no pixel set); '
                             'its mean feature is undefined')
        # One (M, h*w) x (h*w, D) product for all masks of the image.
        pooled.append((weights @ feats[i].flatten(1).T) / area)
    if not pooled:
        return feats.new_zeros(0, feats.shape[1])
    return torch.cat(pooled, dim=0)
