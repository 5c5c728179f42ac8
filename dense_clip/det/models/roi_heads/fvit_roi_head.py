"""F-ViT's RoI head: mmdet's standard head plus the VLM score at test time.

wusize/CLIPSelf ``F-ViT/models/fvit_head.py`` ``FViTRoIHead`` / ``FViTBBoxHead.forward``: at test
time each box is also embedded from the frozen CLIP's dense map (a 1x1 RoIAlign of the
L2-normalised value-path map: the shared :class:`~dense_clip.models.region.RegionEncoder`), its
"VLM score" is softmax(vlm_temperature x cos(region, [classes; background])), and the detector's
softmax is fused with it per class (:meth:`FViTBBoxHead.fuse`): OV-COCO alpha 0.1, beta 0.8,
vlm_temperature 75; OV-LVIS alpha 0.1, beta 0.6, vlm_temperature 50.

The detector hands the class embeddings, the dense pass and the region encoder over for the
duration of one call with :meth:`using`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch.nn.functional as F
from mmdet.models.roi_heads import StandardRoIHead
from torch import Tensor

from dense_clip.registry import DET_MODELS

from .fvit_bbox_head import FViTBBoxHead

__all__ = ['FViTRoIHead']


@DET_MODELS.register_module()
class FViTRoIHead(StandardRoIHead):
    """StandardRoIHead with F-ViT's test-time VLM fusion.

    Args:
        alpha: VLM weight of base classes and the background.
        beta: VLM weight of novel classes.
        vlm_temperature: temperature of the VLM softmax.
        fuse_vlm: False turns the fusion off (the detector's own scores, an ablation).
        **kwargs: :class:`StandardRoIHead` arguments (its ``bbox_head`` an
            :class:`FViTBBoxHead`).
    """

    def __init__(self, alpha: float = 0.1, beta: float = 0.8, vlm_temperature: float = 75.0,
                 fuse_vlm: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.bbox_head, FViTBBoxHead):
            raise TypeError(f'FViTRoIHead needs an FViTBBoxHead, got {type(self.bbox_head)}')
        for name, value in (('alpha', alpha), ('beta', beta)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {value}')
        self.alpha, self.beta = float(alpha), float(beta)
        self.vlm_temperature = float(vlm_temperature)
        self.fuse_vlm = bool(fuse_vlm)
        self._context: dict[str, Any] = {}

    @contextmanager
    def using(self, dense: Any = None, region: Any = None) -> Iterator[FViTRoIHead]:
        """Makes the dense pass and its region encoder visible to the box head for one call."""
        self._context = dict(dense=dense, region=region)
        try:
            yield self
        finally:
            self._context = {}

    def _bbox_forward(self, x: tuple[Tensor], rois: Tensor) -> dict:
        results = super()._bbox_forward(x, rois)
        if self.training:
            return results  # logits, for the loss
        probs = results['cls_score'].softmax(dim=-1)
        dense, region = self._context.get('dense'), self._context.get('region')
        if self.fuse_vlm and dense is not None and rois.shape[0]:
            classifier = self.bbox_head.classifier
            vlm = F.normalize(region.encode_rois(dense, rois), dim=-1)
            vlm_probs = (vlm @ classifier.all_embeddings().T * self.vlm_temperature).softmax(-1)
            probs = FViTBBoxHead.fuse(probs, vlm_probs, classifier.novel, self.alpha, self.beta)
        results['cls_score'] = probs  # FViTBBoxHead predicts from probabilities
        return results
