"""The zero-shot head of the training-free methods: cosine of patch features and text.

Every training-free method of this family (MaskCLIP, SCLIP, ClearCLIP, NACLIP, CLIPtrase,
ProxyCLIP) scores a patch by the cosine similarity between its L2-normalised dense feature and
each L2-normalised class-name embedding; they differ in the dense pass, not here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dense_clip.models.clip import DenseOutput
from dense_clip.models.text import Vocabulary
from dense_clip.registry import SEG_HEADS

from ..steps.base import Prediction
from .base import SegHead

__all__ = ['CosineHead', 'CosineScores']


class CosineScores:
    """Cosine scores kept as normalised features: (N, D, h, w) instead of (N, S, h, w).

    ``channels(start, end)`` computes the same product as :class:`CosineHead` on a range of
    names. The product's rounding may depend on the number of names (BLAS picks kernels by
    shape), so the scores equal the full ones to float32 rounding; a single name is computed as
    part of a pair, which keeps it off the one-column path that rounds most differently.
    """

    space = 'cosine'

    def __init__(self, feats: Tensor, text: Tensor) -> None:
        self.feats, self.text = feats, text
        self.shape = (feats.shape[0], text.shape[0], *feats.shape[2:])
        self.nbytes = feats.numel() * feats.element_size()

    def channels(self, start: int, end: int) -> Tensor:
        """(N, end - start, h, w) scores of names ``start:end``."""
        first = max(min(start, self.text.shape[0] - 2), 0) if end - start == 1 else start
        scores = torch.einsum('ndhw,sd->nshw', self.feats, self.text[first:max(end, first + 2)])
        return scores[:, start - first:end - first]


@SEG_HEADS.register_module()
class CosineHead(SegHead):
    """Cosine scores (N, S, h, w) in the 'cosine' space; no parameters."""

    def forward(self, dense: DenseOutput, text: Tensor, vocabulary: Vocabulary) -> Prediction:
        feats = F.normalize(dense.dense.float(), dim=1)
        return Prediction(scores=torch.einsum('ndhw,sd->nshw', feats, text), space='cosine')

    def lazy_scores(self, dense: DenseOutput, text: Tensor,
                    vocabulary: Vocabulary) -> CosineScores:
        """The normalised features, scored a range of names at a time (bounded memory)."""
        return CosineScores(F.normalize(dense.dense.float(), dim=1), text)
