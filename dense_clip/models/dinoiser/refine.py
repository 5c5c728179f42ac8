"""CLIP-DINOiser's pure functions: correlation pooling and the background override.

Sources: the paper (ANCHORS.md section 2) and wysoczanska/clip_dinoiser
``models/clip_dinoiser/clip_dinoiser.py``: ``compute_weighted_pool`` (refinement, with a 1e-6
added to the normaliser), ``CLIP_DINOiser.forward`` (``corrs[corrs < gamma] = 0``, gamma 0.2; the
FOUND override on the feature grid: where max class probability < delta (0.99) and the
saliency sigmoid is <= 0.5, class 0 gets probability 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['threshold_correlations', 'pooled_refinement', 'background_override']


def threshold_correlations(corr: Tensor, threshold: float = 0.2) -> Tensor:
    """Zeroes correlations below ``threshold`` (not in place). (B, N, N) -> (B, N, N)."""
    return corr.masked_fill(corr < threshold, 0.0)


def pooled_refinement(feats: Tensor, corr: Tensor, threshold: float | None = 0.2,
                      eps: float = 1e-6) -> Tensor:
    """f'_i = Σ_j C_ij f_j / (Σ_j C_ij + eps) with C thresholded.

    Args:
        feats: (B, D, h, w) dense features (MaskCLIP, un-normalised as the authors use them).
            Resized bilinearly to the correlation grid when the grids differ (as the authors).
        corr: (B, h'*w', h'*w') correlations, row i = query patch i.
        threshold: entries below it become 0 (None: no threshold).
        eps: added to the row sums.

    Returns:
        (B, D, h', w') refined features.
    """
    b, n = corr.shape[0], corr.shape[-1]
    h, w = feats.shape[-2:]
    if h * w != n:
        side = round(n ** 0.5)
        if side * side != n:
            raise ValueError(f'cannot resize features {(h, w)} to {n} correlation cells')
        feats = F.interpolate(feats, size=(side, side), mode='bilinear', align_corners=False)
        h = w = side
    if threshold is not None:
        corr = threshold_correlations(corr, threshold)
    flat = feats.flatten(2)  # (B, D, N)
    pooled = flat @ corr.transpose(1, 2).to(flat.dtype)  # (B, D, N): Σ_j f_j C_ij
    pooled = pooled / (corr.sum(dim=-1)[:, None].to(flat.dtype) + eps)
    return pooled.reshape(b, -1, h, w)


def background_override(logits: Tensor, fg_logit: Tensor, class_index: Tensor,
                        background_class: int, logit_scale: float, delta: float = 0.99,
                        value: float = 1.0) -> Tensor:
    """Hands uncertain, non-salient cells to the background class.

    Args:
        logits: (B, S, h, w) cosine logits, one channel per class name.
        fg_logit: (B, 1, h, w) foreground logits of the background head.
        class_index: (S,) long, the class of each name.
        background_class: index of the background class.
        logit_scale: scale of the softmax over names that measures certainty.
        delta: cells whose top class probability is below it are uncertain (0.99).
        value: cosine given to every background name at overridden cells (1.0 = the largest
            cosine, so background wins the later softmax; the authors set the probability to 1).

    Returns:
        (B, S, h, w) logits, a copy.
    """
    probs = (logits.float() * logit_scale).softmax(dim=1)
    num_classes = int(class_index.max()) + 1
    index = class_index.to(probs.device).view(1, -1, 1, 1).expand_as(probs)
    per_class = probs.new_zeros(probs.shape[0], num_classes, *probs.shape[2:])
    per_class = per_class.scatter_reduce(1, index, probs, 'amax', include_self=False)
    uncertain = per_class.max(dim=1).values < delta  # (B, h, w)
    background = torch.sigmoid(fg_logit.float())[:, 0] <= 0.5
    override = (uncertain & background)[:, None]  # (B, 1, h, w)
    names = (class_index == background_class).view(1, -1, 1, 1)
    return logits.masked_fill(override & names, value)
