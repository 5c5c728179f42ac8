"""Trident's SAM refinement as a labels-stage step: the coarse map's own regions prompt SAM.

The algorithm is :func:`~dense_clip.models.sam.coarse_refine.refine_with_sam_prompts` (Shi,
Dong, Xu, ICCV 2025; YuHengsss/Trident ``seg_utils/utils.py`` ``sam_refinement``, enabled there
by ``eval.py --sam_refine``). As in the authors' code, SAM encodes the image at the labels' size
with both sides rounded up to a multiple of the CLIP patch (OpenCV's bilinear resize), and the
step replaces the labels and the class probabilities with the refined labels and scores.

With :class:`~dense_clip.seg.segmentors.TridentSegmentor` and no ``sam`` of its own, the step
uses the segmentor's SAM (one set of weights).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dense_clip.models.sam import SAMModel
from dense_clip.models.sam.coarse_refine import refine_with_sam_prompts
from dense_clip.registry import SEG_STEPS

from .base import Prediction, SegStep, StepContext

__all__ = ['TridentSAMRefine']


@SEG_STEPS.register_module()
class TridentSAMRefine(SegStep):
    """Labels step: Trident's prompt-based SAM refinement of the coarse map.

    Args:
        sam: :class:`SAMModel` arguments or a built one; None: the Trident segmentor's SAM.
        coarse_thresh: pixels (and classes) whose top probability is below it prompt nothing
            (authors: 0.2; per benchmark in their ``configs/cfg_*.py``).
        minimal_area: smallest region, in pixels of the half-size map (authors: 225).
        mask_coef: scale of the class probabilities given to SAM as a mask prompt (authors'
            ``sam_mask_coff``: 0.005).
        iou_thresh: SAM masks whose predicted IoU is at most this are dropped (authors'
            ``sam_iou_thresh``: 0.8).
        down_ratio: regions are found on the map shrunk by this factor (authors: 2).
        size_multiple: SAM's input sides are rounded up to a multiple of this (the CLIP patch;
            authors: 16).
    """

    stage = 'labels'
    needs_rgb = True

    def __init__(self, sam: dict | SAMModel | None = None, coarse_thresh: float = 0.2,
                 minimal_area: int = 225, mask_coef: float = 0.005, iou_thresh: float = 0.8,
                 down_ratio: int = 2, size_multiple: int = 16) -> None:
        super().__init__()
        if sam is not None and not isinstance(sam, SAMModel):
            sam = SAMModel(**sam)
        self.sam = sam
        self.coarse_thresh = float(coarse_thresh)
        self.minimal_area = int(minimal_area)
        self.mask_coef = float(mask_coef)
        self.iou_thresh = float(iou_thresh)
        self.down_ratio = int(down_ratio)
        self.size_multiple = int(size_multiple)
        if self.down_ratio < 1 or self.size_multiple < 1:
            raise ValueError(f'down_ratio and size_multiple must be >= 1, got {down_ratio}, '
                             f'{size_multiple}')

    def share_sam(self, sam: SAMModel) -> None:
        """Uses ``sam`` (the segmentor's, registered there) when the step has none."""
        if self.sam is None:  # not registered: its weights belong to the segmentor
            self.__dict__['_shared_sam'] = sam

    def _sam(self) -> SAMModel:
        sam = self.sam if self.sam is not None else self.__dict__.get('_shared_sam')
        if sam is None:
            raise ValueError('TridentSAMRefine has no SAM: give it sam=dict(model_type=..., '
                             "checkpoint=...) or use it in a TridentSegmentor's steps")
        return sam

    def init_weights(self) -> None:
        if self.sam is not None:
            self.sam.init_weights()

    @torch.no_grad()
    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        import mmcv
        from segment_anything import SamPredictor

        if ctx.rgb is None:
            raise ValueError('TridentSAMRefine needs the RGB image (ctx.rgb) at the labels stage')
        if pred.probs.shape[0] != ctx.vocabulary.num_classes:
            raise ValueError("TridentSAMRefine needs every class's probabilities "
                             "(test_cfg.probs='full')")
        rgb = ctx.rgb.cpu().numpy()
        height, width = rgb.shape[:2]
        size = (math.ceil(width / self.size_multiple) * self.size_multiple,
                math.ceil(height / self.size_multiple) * self.size_multiple)
        predictor = SamPredictor(self._sam().ready())
        predictor.set_image(mmcv.imresize(rgb, size, interpolation='bilinear', backend='cv2'))
        labels, scores = refine_with_sam_prompts(
            predictor, pred.labels, pred.probs, self.coarse_thresh, self.minimal_area,
            self.mask_coef, self.iou_thresh, self.down_ratio)
        pred.labels, pred.probs = labels.to(pred.labels), scores.to(pred.probs)
        return pred

    def extra_repr(self) -> str:
        settings: dict[str, Any] = dict(
            coarse_thresh=self.coarse_thresh, minimal_area=self.minimal_area,
            mask_coef=self.mask_coef, iou_thresh=self.iou_thresh, down_ratio=self.down_ratio,
            size_multiple=self.size_multiple, shared_sam=self.sam is None)
        return ', '.join(f'{k}={v!r}' for k, v in settings.items())
