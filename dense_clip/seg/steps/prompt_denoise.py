"""MaskCLIP's prompt denoising: class names confident nowhere in a window are dropped.

Zhou, Loy & Dai, "Extract Free Dense Labels from CLIP", ECCV 2022, section 3.2; settings from the
authors' head (``MaskClipHead.refine_output``, chongzhou96/MaskCLIP): probabilities are
``softmax(100 * cosine)`` over names, and a name whose highest probability anywhere in the window
is below the threshold (0.5 in the paper) gets cosine -100.
"""

from __future__ import annotations

from torch import Tensor

from dense_clip.registry import SEG_STEPS

from .base import Prediction, SegStep, StepContext

__all__ = ['PromptDenoise', 'prompt_denoising']


def prompt_denoising(logits: Tensor, threshold: float, temperature: float = 100.0) -> Tensor:
    """Removes class names that are nowhere confident.

    Args:
        logits: (N, S, h, w) cosine similarities to S class names.
        threshold: minimum of a name's highest probability over the window.
        temperature: scale of the softmax over names that measures confidence.

    Returns:
        ``logits`` with absent names set to -100 (a new tensor).
    """
    probs = (logits * temperature).softmax(dim=1)
    absent = probs.flatten(2).amax(dim=2) < threshold  # (N, S)
    return logits.masked_fill(absent[:, :, None, None], -100.0)


@SEG_STEPS.register_module()
class PromptDenoise(SegStep):
    """Window step: MaskCLIP prompt denoising on cosine scores.

    Args:
        threshold: confidence a name must reach somewhere in the window (paper: 0.5).
        temperature: softmax scale of the confidence (authors: 100).
    """

    stage = 'window'

    def __init__(self, threshold: float = 0.5, temperature: float = 100.0) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.temperature = float(temperature)

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if pred.space != 'cosine':
            raise ValueError(f'PromptDenoise needs cosine scores, got {pred.space!r} scores '
                             '(put it before steps that change the score space)')
        pred.scores = prompt_denoising(pred.scores, self.threshold, self.temperature)
        return pred

    def extra_repr(self) -> str:
        return f'threshold={self.threshold}, temperature={self.temperature}'
