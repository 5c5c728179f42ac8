"""Open-vocabulary mask classification as a semantic map (a labels-stage step): SAM's masks are
classified by mask pooling the whole image's dense CLIP features, and painted.

The "SAM + dense CLIP" recipe (mask pooling of dense features as in CLIPSelf / F-ViT, Wu et al.,
ICLR 2024; masks from Segment Anything, Kirillov et al., ICCV 2023): one CLIP pass over the
image, one matmul for every mask's embedding, cosine with the text classifier. A pixel covered
by several classified masks takes the class of the best one (class probability x SAM's
predicted IoU); pixels no object mask covers keep the dense map's label, or become background.
"""

from __future__ import annotations

from dense_clip.models.masks import MaskGenerator, classify_masks, mask_pool, paint_masks
from dense_clip.registry import MASK_GENERATORS, SEG_STEPS, build_component

from .base import Prediction, SegStep, StepContext

__all__ = ['MaskClassify']

UNCOVERED = ('keep', 'background')


@SEG_STEPS.register_module()
class MaskClassify(SegStep):
    """Labels step: classify SAM masks with pooled dense features and paint them.

    Needs ``test_cfg.mode='whole'`` (it pools the whole image's pass, any last block and any
    tower). The dense grid is taken to cover the whole image; masks are area-averaged onto it.

    Args:
        generator: a registered mask generator (``MASK_GENERATORS``), default SAM's automatic
            generator with its own settings.
        logit_scale: scale of the mask-level softmax (None: the segmentor's).
        score_thresh: masks whose top class probability is below this are not painted.
        uncovered: pixels no painted mask covers: 'keep' (the dense label) or 'background'
            (class 0).
    """

    stage = 'labels'
    needs_whole_image = True
    needs_rgb = True

    def __init__(self, generator: dict | MaskGenerator | None = None,
                 logit_scale: float | None = None, score_thresh: float = 0.0,
                 uncovered: str = 'keep') -> None:
        super().__init__()
        if uncovered not in UNCOVERED:
            raise ValueError(f'unknown uncovered={uncovered!r}; valid: {UNCOVERED}')
        self.generator = build_component(MASK_GENERATORS,
                                         generator or dict(type='SAMAutomaticMasks'),
                                         MaskGenerator)
        self.logit_scale = logit_scale
        self.score_thresh = float(score_thresh)
        self.uncovered = uncovered

    def init_weights(self) -> None:
        self.generator.init_weights()

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if ctx.dense is None or ctx.rgb is None:
            raise ValueError("MaskClassify needs the whole image's dense pass and RGB image "
                             "(test_cfg.mode='whole')")
        labels = pred.labels[0]
        fill = labels if self.uncovered == 'keep' else labels.new_zeros(labels.shape)
        proposals = self.generator(ctx.rgb)
        proposals.check_image_size(*labels.shape, source=type(self.generator).__name__)
        if len(proposals) == 0:
            pred.labels = fill[None].clone()
            return pred
        vocabulary = ctx.vocabulary
        pooled = mask_pool(ctx.dense.dense[0], proposals.masks.to(ctx.dense.dense.device))
        result = classify_masks(
            pooled, ctx.text, vocabulary.synonym_index(pooled.device), vocabulary.num_classes,
            ctx.logit_scale if self.logit_scale is None else self.logit_scale,
            score_thresh=self.score_thresh)
        keep = result.scores >= self.score_thresh
        order = result.scores * proposals.scores.to(result.scores.device)
        painted = paint_masks(proposals.masks[keep.cpu()].to(labels.device),
                              result.labels[keep], order[keep], fill)
        pred.labels = painted[None]
        return pred

    def extra_repr(self) -> str:
        return (f'logit_scale={self.logit_scale}, score_thresh={self.score_thresh}, '
                f'uncovered={self.uncovered!r}')
