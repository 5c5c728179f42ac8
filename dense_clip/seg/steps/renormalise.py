"""Renormalising class probabilities after synonyms are reduced (NACLIP's current protocol).

Taking each class's best synonym leaves probabilities that no longer sum to one. NACLIP's
``postprocess_result`` (sinahmr/NACLIP since commit defb7c9, "Update for v2") divides them by
their sum over classes after the probability threshold has set the labels; labels are unchanged.
"""

from __future__ import annotations

from dense_clip.registry import SEG_STEPS

from .base import Prediction, SegStep, StepContext

__all__ = ['Renormalise']


@SEG_STEPS.register_module()
class Renormalise(SegStep):
    """Labels step: ``probs / probs.sum(over classes)``; labels unchanged.

    In bounded-memory prediction (``probs`` (1, H, W), the top class only) it divides by
    ``prob_sum``, the sum over classes computed while streaming.
    """

    stage = 'labels'
    bounded_ok = True

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if pred.prob_sum is not None:
            pred.probs = pred.probs / pred.prob_sum
            pred.prob_sum = pred.prob_sum / pred.prob_sum
            return pred
        pred.probs = pred.probs / pred.probs.sum(dim=0, keepdim=True)
        return pred
