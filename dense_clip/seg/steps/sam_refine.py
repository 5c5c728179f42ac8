"""SAM refinement of a dense label map (a labels-stage step): each confident SAM mask takes
the majority (or mean-probability) label of the map inside it.

Class-agnostic masks from Segment Anything (Kirillov et al., ICCV 2023; its automatic mask
generator, ``segment_anything/automatic_mask_generator.py``, wrapped by
:class:`~dense_clip.models.sam.SAMAutomaticMasks`) snap a training-free map to object
boundaries: the dense map says *what*, SAM says *where*. Masks vote in order of SAM's predicted
IoU, the best painted last, so they win where masks overlap; pixels no voting mask covers keep
their label. Probabilities are left as they are (only labels change).
"""

from __future__ import annotations

from typing import Any

from dense_clip.models.masks import VOTE_MODES, MaskGenerator, vote_in_masks
from dense_clip.registry import MASK_GENERATORS, SEG_STEPS, build_component

from .base import Prediction, SegStep, StepContext

__all__ = ['SAMRefine']


@SEG_STEPS.register_module()
class SAMRefine(SegStep):
    """Labels step: votes the dense labels inside SAM's masks.

    Args:
        generator: a registered mask generator (``MASK_GENERATORS``), e.g.
            ``dict(type='SAMAutomaticMasks', sam=dict(model_type='vit_b',
            checkpoint='zoo://sam_vit_b'), points_per_side=32)``; SAM's own defaults otherwise.
        mode: 'majority' (the most frequent label inside the mask) or 'mean_prob' (the arg-max
            of the mean class probabilities inside it).
        min_score: masks whose quality (SAM's predicted IoU) is below this do not vote.
        min_agreement: a mask votes only where its label already holds at least this share of
            its pixels (0: every mask votes).
        max_area: masks covering more than this fraction of the image do not vote (SAM's
            whole-image masks would otherwise flood the map).
    """

    stage = 'labels'
    needs_rgb = True

    def __init__(self, generator: dict | MaskGenerator | None = None, mode: str = 'majority',
                 min_score: float = 0.0, min_agreement: float = 0.0,
                 max_area: float = 1.0) -> None:
        super().__init__()
        if mode not in VOTE_MODES:
            raise ValueError(f'unknown SAMRefine mode {mode!r}; valid: {VOTE_MODES}')
        self.generator = build_component(MASK_GENERATORS,
                                         generator or dict(type='SAMAutomaticMasks'),
                                         MaskGenerator)
        self.mode = mode
        self.min_score = float(min_score)
        self.min_agreement = float(min_agreement)
        self.max_area = float(max_area)

    def init_weights(self) -> None:
        self.generator.init_weights()

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if ctx.rgb is None:
            raise ValueError('SAMRefine needs the RGB image (ctx.rgb) at the labels stage')
        labels = pred.labels[0]
        proposals = self.generator(ctx.rgb)
        proposals.check_image_size(*labels.shape, source=type(self.generator).__name__)
        area = proposals.masks.flatten(1).float().mean(dim=1)
        keep = (proposals.scores >= self.min_score) & (area <= self.max_area)
        proposals = proposals.select(keep)
        if len(proposals) == 0:  # nothing to vote with: the map stays as it is
            return pred
        pred.labels = vote_in_masks(
            labels, proposals.masks.to(labels.device), proposals.scores, pred.probs.shape[0],
            mode=self.mode, probs=pred.probs, min_agreement=self.min_agreement)[None]
        return pred

    def extra_repr(self) -> str:
        settings: dict[str, Any] = dict(mode=self.mode, min_score=self.min_score,
                                        min_agreement=self.min_agreement, max_area=self.max_area)
        return ', '.join(f'{k}={v!r}' for k, v in settings.items())
