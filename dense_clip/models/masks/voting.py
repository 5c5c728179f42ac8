"""From masks to label maps: painting classified masks, and voting a dense map inside masks.

* :func:`paint_masks` turns classified masks into a semantic map: a pixel covered by several
  masks takes the label of the best-scored one; uncovered pixels keep a fill value.
* :func:`vote_in_masks` refines a dense label map with class-agnostic masks (SAM): each mask
  takes the majority label of the map inside it, or the arg-max of the map's mean class
  probabilities inside it, and hands it to all its pixels.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['VOTE_MODES', 'mask_majority', 'mask_mean_probs', 'paint_masks', 'vote_in_masks']

VOTE_MODES = ('majority', 'mean_prob')
_CHUNK = 64  # masks per matmul in mask_mean_probs


def _check(masks: Tensor, size: tuple[int, int], what: str) -> None:
    if masks.ndim != 3:
        raise ValueError(f'masks must be (N, H, W), got {tuple(masks.shape)}')
    if tuple(masks.shape[1:]) != tuple(size):
        raise ValueError(f'masks are {masks.shape[1]}x{masks.shape[2]} but the {what} is '
                         f'{size[0]}x{size[1]}: masks must be at its resolution')


def paint_masks(masks: Tensor, labels: Tensor, order: Tensor, fill: Tensor) -> Tensor:
    """Paints mask labels into a map; higher ``order`` wins where masks overlap.

    Args:
        masks: (N, H, W) bool.
        labels: (N,) int64 label of each mask.
        order: (N,) float priority (e.g. class score x mask quality).
        fill: (H, W) int64 labels of pixels no mask covers (copied, not changed).

    Returns:
        (H, W) int64 map.
    """
    _check(masks, tuple(fill.shape), 'label map')
    out = fill.clone()
    for i in torch.argsort(order.float(), stable=True).tolist():  # best painted last
        out[masks[i].to(out.device)] = labels[i].to(out.device)
    return out


def mask_majority(labels: Tensor, masks: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Most frequent label inside each mask, for all masks at once.

    Args:
        labels: (H, W) int64 labels in [0, num_classes).
        masks: (N, H, W) bool.
        num_classes: C.

    Returns:
        ((N,) int64 majority labels, (N,) float32 share of the mask's pixels holding it, 0 for
        an empty mask). Ties go to the lower label.
    """
    _check(masks, tuple(labels.shape), 'label map')
    n = masks.shape[0]
    flat = masks.reshape(n, -1).to(labels.device)
    mask_idx, pixel = flat.nonzero(as_tuple=True)
    counts = torch.zeros(n * num_classes, dtype=torch.float32, device=labels.device)
    counts.index_add_(0, mask_idx * num_classes + labels.reshape(-1)[pixel],
                      torch.ones_like(pixel, dtype=torch.float32))
    counts = counts.reshape(n, num_classes)
    top, winner = counts.max(dim=1)
    share = top / counts.sum(dim=1).clamp_min(1)
    return winner, share


def mask_mean_probs(probs: Tensor, masks: Tensor) -> Tensor:
    """Mean class probabilities inside each mask.

    Args:
        probs: (C, H, W) float probabilities.
        masks: (N, H, W) bool.

    Returns:
        (N, C) float32 (zeros for an empty mask).
    """
    _check(masks, tuple(probs.shape[1:]), 'probability map')
    c = probs.shape[0]
    flat = probs.float().reshape(c, -1).T  # (HW, C)
    rows = []
    for start in range(0, masks.shape[0], _CHUNK):
        chunk = masks[start:start + _CHUNK].reshape(-1, flat.shape[0]).to(flat)
        rows.append((chunk @ flat) / chunk.sum(dim=1, keepdim=True).clamp_min(1))
    return torch.cat(rows) if rows else flat.new_zeros(0, c)


def vote_in_masks(labels: Tensor, masks: Tensor, order: Tensor, num_classes: int,
                  mode: str = 'majority', probs: Tensor | None = None,
                  min_agreement: float = 0.0) -> Tensor:
    """Refines a label map: every pixel of a mask takes the mask's voted label.

    Args:
        labels: (H, W) int64 dense labels.
        masks: (N, H, W) bool masks at the same resolution.
        order: (N,) priority where masks overlap (higher wins, e.g. SAM's predicted IoU).
        num_classes: C.
        mode: 'majority' (most frequent label inside the mask) or 'mean_prob' (arg-max of the
            mean class probabilities inside it; needs ``probs``).
        probs: (C, H, W) class probabilities (for 'mean_prob').
        min_agreement: a mask votes only if its winning label already holds at least this
            share of its pixels (0: every non-empty mask votes).

    Returns:
        (H, W) int64 refined labels (pixels outside every voting mask unchanged).

    Raises:
        ValueError: an unknown mode (valid ones listed), masks of another size than the map.
    """
    if mode not in VOTE_MODES:
        raise ValueError(f'unknown vote mode {mode!r}; valid: {VOTE_MODES}')
    _check(masks, tuple(labels.shape), 'label map')
    if masks.shape[0] == 0:
        return labels.clone()
    majority, share = mask_majority(labels, masks, num_classes)
    if mode == 'mean_prob':
        if probs is None:
            raise ValueError("vote mode 'mean_prob' needs the class probabilities")
        winner = mask_mean_probs(probs, masks).argmax(dim=1)
        flat = masks.reshape(masks.shape[0], -1).to(labels.device)
        agree = (flat & (labels.reshape(1, -1) == winner[:, None])).sum(dim=1).float()
        share = agree / flat.sum(dim=1).clamp_min(1)
    else:
        winner = majority
    voting = (masks.reshape(masks.shape[0], -1).any(dim=1).to(share.device)
              & (share >= min_agreement))
    keep = voting.nonzero(as_tuple=True)[0]
    return paint_masks(masks[keep.to(masks.device)], winner[keep], order.to(keep.device)[keep],
                       labels)
