"""CLIPtrase's re-weighting of patch scores by the image-level scores (its VOC20 protocol).

Shao et al., "Explore the Potential of CLIP for Training-Free Open Vocabulary Semantic
Segmentation", ECCV 2024; leaves162/CLIPtrase ``clip_self_correlation.py`` multiplies, for
VOC20, each name's patch logits by the image embedding's logit for that name (both scaled by 100;
the arg-max is the same as multiplying the cosines).
"""

from __future__ import annotations

import torch.nn.functional as F

from dense_clip.registry import SEG_STEPS

from .base import Prediction, SegStep, StepContext

__all__ = ['ClsReweight']


@SEG_STEPS.register_module()
class ClsReweight(SegStep):
    """Window step: multiplies each name's patch cosines by the image embedding's cosine to it."""

    stage = 'window'

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if pred.space != 'cosine':
            raise ValueError(f'ClsReweight needs cosine scores, got {pred.space!r} scores')
        if ctx.dense is None or ctx.dense.cls is None:
            raise ValueError('ClsReweight needs an image embedding (a tower with pooling)')
        image_cos = F.normalize(ctx.dense.cls.float(), dim=-1) @ ctx.text.t()  # (N, S)
        pred.scores = pred.scores * image_cos[:, :, None, None]
        return pred
