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

__all__ = ['CosineHead']


@SEG_HEADS.register_module()
class CosineHead(SegHead):
    """Cosine scores (N, S, h, w) in the 'cosine' space; no parameters."""

    def forward(self, dense: DenseOutput, text: Tensor, vocabulary: Vocabulary) -> Prediction:
        feats = F.normalize(dense.dense.float(), dim=1)
        return Prediction(scores=torch.einsum('ndhw,sd->nshw', feats, text), space='cosine')
