"""CLIP-DINOiser's pure functions: correlation pooling and the background override.

Sources: the paper (Wysoczańska et al., ECCV 2024) and wysoczanska/clip_dinoiser
``models/clip_dinoiser/clip_dinoiser.py``: ``compute_weighted_pool`` (refinement, with a 1e-6
added to the normaliser), ``CLIP_DINOiser.forward`` (``corrs[corrs < gamma] = 0``, gamma 0.2; the
FOUND override on the feature grid, on probabilities: where max class probability < delta (0.99)
and the saliency sigmoid is <= 0.5, class 0 gets probability 1, the others keep theirs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dense_clip.models.text import reduce_synonyms

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


def background_override(probs: Tensor, fg_logit: Tensor, class_index: Tensor,
                        background_class: int, delta: float = 0.99) -> Tensor:
    """Hands uncertain, non-salient cells to the background class, as the authors do.

    Where the top class probability is below ``delta`` and the background head's sigmoid is
    <= 0.5, the probability of the background class is set to 1.0 and every other class keeps
    its probability (``CLIP_DINOiser.forward``: ``output[:, 0, uncertain & ~found] = 1.0`` on the
    softmax output). With synonyms, every name of the background class gets 1.0 and a class's
    certainty is its best name's probability.

    Args:
        probs: (B, S, h, w) probabilities over the S class names (softmax of the scaled cosines).
        fg_logit: (B, 1, h, w) foreground logits of the background head.
        class_index: (S,) long, the class of each name.
        background_class: index of the background class.
        delta: cells whose top class probability is below it are uncertain (0.99).

    Returns:
        (B, S, h, w) probabilities, a copy.
    """
    index = class_index.to(probs.device)
    per_class = reduce_synonyms(probs, index)
    uncertain = per_class.max(dim=1).values < delta  # (B, h, w)
    background = torch.sigmoid(fg_logit.float())[:, 0] <= 0.5
    override = (uncertain & background)[:, None]  # (B, 1, h, w)
    names = (index == background_class).view(1, -1, 1, 1)
    return probs.masked_fill(override & names, 1.0)
