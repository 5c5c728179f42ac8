"""MaskCLIP's key smoothing: patch probabilities re-voted over patches with similar keys.

Zhou, Loy & Dai, "Extract Free Dense Labels from CLIP", ECCV 2022, section 3.2; settings from the
authors' head (``MaskClipHead.refine_output``, chongzhou96/MaskCLIP): probabilities are
``softmax(100 * cosine)`` over names, re-estimated as ``A @ P`` with ``A = k̂ k̂ᵀ`` the cosine
affinity of the last block's keys (heads merged, patch tokens only); patches whose top
probability is below ``vote_thresh`` take the vote (1.0: every patch). The vote is not
renormalised, as in the authors' code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dense_clip.models.clip import DenseRequest
from dense_clip.models.clip.ops import merge_heads
from dense_clip.registry import SEG_STEPS

from .base import Prediction, SegStep, StepContext

__all__ = ['KeySmoothing', 'key_smoothing']


def key_smoothing(logits: Tensor, keys: Tensor, vote_thresh: float = 1.0,
                  temperature: float = 100.0) -> Tensor:
    """Smooths patch probabilities over patches with similar keys.

    Args:
        logits: (N, S, h, w) cosine similarities.
        keys: (N, h*w, C) the last block's keys of the patch tokens (heads merged).
        vote_thresh: patches whose top probability is below it are replaced by the vote.
        temperature: softmax scale over names.

    Returns:
        (N, S, h, w) probabilities after one vote (not renormalised).
    """
    n, s, h, w = logits.shape
    probs = (logits * temperature).softmax(dim=1).flatten(2).transpose(1, 2)  # (N, hw, S)
    keys = F.normalize(keys.float(), dim=-1)
    voted = (keys @ keys.transpose(1, 2)) @ probs
    replace = probs.amax(dim=-1, keepdim=True) < vote_thresh
    probs = torch.where(replace, voted, probs)
    return probs.transpose(1, 2).reshape(n, s, h, w)


@SEG_STEPS.register_module()
class KeySmoothing(SegStep):
    """Window step: MaskCLIP key smoothing; turns cosine scores into log-probabilities.

    The output is ``log(max(p, 1e-12))`` in the 'logit' space, so the segmentor's softmax returns
    the smoothed p renormalised per pixel; overlapping windows average these log-probabilities
    (MaskCLIP's own slide inference averages probabilities; configs/_base_/protocols.md).

    Args:
        vote_thresh: patches below this top probability are re-voted (1.0: all).
        temperature: softmax scale over names (authors: 100).
    """

    stage = 'window'
    request = DenseRequest(last_qkv=True)

    def __init__(self, vote_thresh: float = 1.0, temperature: float = 100.0) -> None:
        super().__init__()
        self.vote_thresh = float(vote_thresh)
        self.temperature = float(temperature)

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if pred.space != 'cosine':
            raise ValueError(f'KeySmoothing needs cosine scores, got {pred.space!r} scores')
        if ctx.dense is None or ctx.dense.qkv is None:
            raise ValueError("KeySmoothing needs the last block's keys (a ViT dense pass)")
        keys = merge_heads(ctx.dense.qkv[1])[:, 1:]
        if keys.shape[1] != pred.scores.shape[-2] * pred.scores.shape[-1]:
            raise ValueError(f'KeySmoothing: {keys.shape[1]} key tokens for a '
                             f'{tuple(pred.scores.shape[-2:])} score grid')
        probs = key_smoothing(pred.scores, keys, self.vote_thresh, self.temperature)
        pred.scores, pred.space = probs.clamp_min(1e-12).log(), 'logit'
        return pred

    def extra_repr(self) -> str:
        return f'vote_thresh={self.vote_thresh}, temperature={self.temperature}'
