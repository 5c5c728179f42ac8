"""MaskCLIP's two training-free refinements of patch-level predictions.

Zhou, Loy & Dai, "Extract Free Dense Labels from CLIP", ECCV 2022, section 3.2; settings as in the
authors' public head (``MaskClipHead.refine_output``, volgachen/MaskCLIP mirror): predictions are
``softmax(100 * cosine)`` over class names.

- Prompt denoising: a class name whose highest probability anywhere in the image stays below a
  threshold (the paper uses 0.5) is taken as absent: its cosine logits are set to -100.
- Key smoothing: patch probabilities are re-estimated as ``A @ P`` with ``A = k̂ k̂ᵀ`` the
  cosine affinity of the last block's keys; patches whose top probability is below
  ``vote_thresh`` take the smoothed value (1.0: every patch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ['key_smoothing', 'prompt_denoising']

TEMPERATURE = 100.0


def prompt_denoising(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    """Removes class names that are nowhere confident.

    Args:
        logits: ``(N, S, h, w)`` cosine similarities to S class names.
        threshold: minimum of the per-name maximum probability over the image.

    Returns:
        ``logits`` with absent names set to -100 (a new tensor).
    """
    probs = (logits * TEMPERATURE).softmax(dim=1)
    absent = probs.flatten(2).amax(dim=2) < threshold  # (N, S)
    return logits.masked_fill(absent[:, :, None, None], -100.0)


def key_smoothing(logits: torch.Tensor, keys: torch.Tensor,
                  vote_thresh: float = 1.0) -> torch.Tensor:
    """Smooths patch probabilities over patches with similar keys.

    Args:
        logits: ``(N, S, h, w)`` cosine similarities.
        keys: ``(N, h*w, C)`` the last block's keys of the patch tokens (heads merged).
        vote_thresh: patches whose top probability is below it are replaced by the vote.

    Returns:
        ``(N, S, h, w)`` probabilities after one vote (not renormalised, as in the authors').
    """
    n, s, h, w = logits.shape
    probs = (logits * TEMPERATURE).softmax(dim=1).flatten(2).transpose(1, 2)  # (N, hw, S)
    keys = F.normalize(keys.float(), dim=-1)
    voted = (keys @ keys.transpose(1, 2)) @ probs
    replace = probs.amax(dim=-1, keepdim=True) < vote_thresh
    probs = torch.where(replace, voted, probs)
    return probs.transpose(1, 2).reshape(n, s, h, w)
