"""The step interface: one small registered class per method-specific step of a segmentor.

A segmentor runs a prediction through fixed stages; a step names the stage it acts at and what
it needs from the dense pass, and changes one field of the :class:`Prediction`:

* ``'window'``: per batch of windows, on the patch grid, before upsampling. ``scores`` is
  (N, S, h, w), one channel per class name, in ``space``; ``ctx.dense`` is that batch's pass.
* ``'image'``: on the whole image's scores at the output resolution, before they become
  probabilities; ``scores`` is (1, S, H, W); ``ctx.image`` is the normalised image resized to
  (H, W) (PAMR's guide).
* ``'labels'``: after the class probabilities ``probs`` (C, H, W) and ``labels`` (1, H, W) are
  final (synonyms reduced, area and probability thresholds applied; ``scores`` is None by
  then: the softmax may have overwritten them); ``ctx.dense`` is the
  whole-image pass in ``mode='whole'``, else None; ``ctx.rgb`` is the image as (H, W, 3) uint8
  RGB when a step asks for it (``needs_rgb``; SAM's input). In bounded-memory prediction
  (``test_cfg.probs='top'``) ``probs`` is (1, H, W), the probability of each pixel's class, with
  ``prob_sum``; only steps marked ``bounded_ok`` run there.

Score spaces: ``'cosine'`` (cosine similarities; the segmentor multiplies them by its
``logit_scale`` before the softmax over names), ``'logit'`` (softmax taken as is) and ``'prob'``
(already probabilities over names; no softmax). A step that changes the space says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dense_clip.models.clip import DenseOutput, DenseRequest
from dense_clip.models.text import Vocabulary

__all__ = ['SCORE_SPACES', 'STAGES', 'Prediction', 'SegStep', 'StepContext', 'to_name_probs']

STAGES = ('window', 'image', 'labels')
SCORE_SPACES = ('cosine', 'logit', 'prob')


@dataclass
class Prediction:
    """What flows through the stages (see the module docstring for each field's shape)."""

    scores: Tensor | None = None
    space: str = 'cosine'
    probs: Tensor | None = None
    labels: Tensor | None = None
    # Bounded-memory prediction (test_cfg.probs='top'): probs is (1, H, W), the probability of
    # each pixel's class, and prob_sum (1, H, W) the sum of all class probabilities.
    prob_sum: Tensor | None = None


@dataclass
class StepContext:
    """What a step may read besides the prediction.

    Attributes:
        vocabulary: the classes being segmented.
        text: (S, D) L2-normalised name embeddings, rows in ``vocabulary.synonyms`` order.
        logit_scale: the segmentor's scale for 'cosine' scores.
        dense: the dense pass of this stage (see the module docstring), or None.
        image: (1, 3, H, W) normalised image at the scores' resolution ('image' stage), or None.
        rgb: (H, W, 3) uint8 RGB image (0-255) at the labels' resolution ('labels' stage, for
            steps with ``needs_rgb``), or None.
    """

    vocabulary: Vocabulary
    text: Tensor
    logit_scale: float
    dense: DenseOutput | None = None
    image: Tensor | None = None
    rgb: Tensor | None = None


class SegStep(nn.Module):
    """Base class of segmentation steps (an ``nn.Module`` so a step may own a model).

    Class attributes:
        stage: one of :data:`STAGES`.
        request: side outputs the step reads from the dense pass.
        needs_whole_image: the step reads ``ctx.dense`` at the 'labels' stage, which only a
            whole-image pass provides (``test_cfg.mode='whole'``).
        needs_extras: strategy side outputs it reads (``DenseOutput.extras`` keys).
        needs_rgb: a 'labels' step that reads ``ctx.rgb`` (the un-normalised image).
        bounded_ok: the step also runs in bounded-memory prediction (``test_cfg.probs='top'``):
            an 'image' step that treats each class map on its own (it is called once per
            chunk of classes), a 'labels' step that reads only ``labels``, or ``probs`` as
            (1, H, W) with ``prob_sum``. Window steps always run.
    """

    stage: str = 'window'
    request: DenseRequest = DenseRequest()
    needs_whole_image: bool = False
    needs_extras: tuple[str, ...] = ()
    needs_rgb: bool = False
    bounded_ok: bool = False

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        """Returns the prediction after this step (may modify and return ``pred``)."""
        raise NotImplementedError


def to_name_probs(scores: Tensor, space: str, logit_scale: float,
                  reuse: bool = False) -> Tensor:
    """Per-name probabilities from scores in any space; the softmax is over dim 1 (names).

    Args:
        scores: (B, S, ...) scores.
        space: one of :data:`SCORE_SPACES`.
        logit_scale: multiplies 'cosine' scores before the softmax.
        reuse: The caller hands ``scores`` over (nothing reads it afterwards): float32 scores
            are overwritten with the result instead of allocating more image-sized maps.

    Returns:
        (B, S, ...) float32 probabilities (the scores themselves in the 'prob' space). Every
        path gives the same values.
    """
    if space not in SCORE_SPACES:
        raise ValueError(f'unknown score space {space!r}; valid: {SCORE_SPACES}')
    if space == 'prob':
        return scores.float()
    owned = reuse or scores.dtype != torch.float32  # may x be overwritten?
    x = scores.float()  # the scores themselves when float32, else a copy
    if space == 'cosine':
        x = x.mul_(logit_scale) if owned else x * logit_scale
        owned = True
    return softmax_in_place(x) if owned else x.softmax(dim=1)


def softmax_in_place(x: Tensor) -> Tensor:
    """``x.softmax(dim=1)``, written over ``x`` when ``x`` is a contiguous CPU tensor (no new
    image-sized map; the same values). aten's CPU softmax over a contiguous tensor reads each
    element of a row before writing its result, so its output may alias its input;
    ``tests/seg/steps/test_base.py`` checks that this holds for the installed torch. Any other
    tensor (channels-last, for one, where aliasing gives wrong values) gets a new result."""
    if x.device.type != 'cpu' or not x.is_contiguous():
        return x.softmax(dim=1)
    return torch.ops.aten._softmax.out(x, 1, False, out=x)
