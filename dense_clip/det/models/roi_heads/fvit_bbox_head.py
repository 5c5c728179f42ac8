"""F-ViT's box head: mmdet's conv-fc head whose classifier is the class text embeddings.

wusize/CLIPSelf ``F-ViT/models/fvit_head.py`` ``FViTBBoxHead`` (configs: 4 shared convs, 2 shared
fcs of width D, 1 class fc, 1 regression fc, class-agnostic regression, temperature learned from
50, background loss weight 0.6 on OV-COCO / 0.9 on OV-LVIS, novel classes weighted 0). The class
fc keeps its ReLU (the authors' ``FIXME: should discard the last relu``): the features compared
with the text embeddings are non-negative.

At test time the RoI head turns the logits into probabilities (and fuses the VLM score, see
:class:`FViTRoIHead`), so :meth:`_predict_by_feat_single` receives probabilities and does not
apply a softmax again.
"""

from __future__ import annotations

import torch
from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.models.utils import empty_instances
from mmdet.structures.bbox import get_box_tensor, scale_boxes
from mmengine.structures import InstanceData
from torch import Tensor

from dense_clip.registry import DET_MODELS

from .text_embedding_classifier import TextEmbeddingClassifier

__all__ = ['FViTBBoxHead']


@DET_MODELS.register_module()
class FViTBBoxHead(ConvFCBBoxHead):
    """ConvFC box head + :class:`TextEmbeddingClassifier`.

    Args:
        temperature: initial temperature of the classifier (F-ViT 50).
        learn_temperature: learn it (F-ViT) or keep it fixed.
        background: 'text', 'learned' or 'zero' (see :class:`TextEmbeddingClassifier`).
        background_loss_weight: weight of the background class in the cross-entropy (F-ViT
            OV-COCO 0.6, OV-LVIS 0.9); None keeps the loss config's ``class_weight``.
        **kwargs: :class:`ConvFCBBoxHead` arguments; ``fc_out_channels`` must be the CLIP's
            embedding width (the F-ViT detector fills it in when None).
    """

    def __init__(self, temperature: float = 50.0, learn_temperature: bool = True,
                 background: str = 'text', background_loss_weight: float | None = None,
                 **kwargs) -> None:
        kwargs['cls_predictor_cfg'] = dict(type='TextEmbeddingClassifier',
                                           temperature=temperature,
                                           learn_temperature=learn_temperature,
                                           background=background)
        super().__init__(**kwargs)
        if not isinstance(self.fc_cls, TextEmbeddingClassifier):
            raise TypeError('FViTBBoxHead needs its text-embedding classifier')
        if background_loss_weight is not None:
            self.loss_cls.class_weight = [1.0] * self.num_classes + [
                float(background_loss_weight)]

    @property
    def classifier(self) -> TextEmbeddingClassifier:
        return self.fc_cls

    def _predict_by_feat_single(self, roi: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                                img_meta: dict, rescale: bool = False,
                                rcnn_test_cfg=None) -> InstanceData:
        """Boxes of one image from class PROBABILITIES (N, C + 1), see the module docstring."""
        results = InstanceData()
        if roi.shape[0] == 0:
            return empty_instances([img_meta], roi.device, task_type='bbox',
                                   instance_results=[results], box_type=self.predict_box_type,
                                   use_box_type=False, num_classes=self.num_classes,
                                   score_per_cls=rcnn_test_cfg is None)[0]
        img_shape = img_meta['img_shape']
        num_rois = roi.shape[0]
        if bbox_pred is not None:
            classes = 1 if self.reg_class_agnostic else self.num_classes
            priors = roi[:, 1:].repeat_interleave(classes, dim=0)
            bboxes = self.bbox_coder.decode(priors, bbox_pred.view(-1, self.bbox_coder.encode_size),
                                            max_shape=img_shape)
        else:
            bboxes = roi[:, 1:].clone()
        if rescale and bboxes.shape[0] > 0:
            bboxes = scale_boxes(bboxes, [1 / s for s in img_meta['scale_factor']])
        bboxes = get_box_tensor(bboxes).view(num_rois, -1)
        if rcnn_test_cfg is None:
            results.bboxes, results.scores = bboxes, cls_score
            return results
        dets, labels = multiclass_nms(bboxes, cls_score, rcnn_test_cfg.score_thr,
                                      rcnn_test_cfg.nms, rcnn_test_cfg.max_per_img,
                                      box_dim=bboxes.shape[-1] // (
                                          1 if self.reg_class_agnostic else self.num_classes))
        results.bboxes, results.scores, results.labels = dets[:, :-1], dets[:, -1], labels
        return results

    @staticmethod
    def fuse(cls_probs: Tensor, vlm_probs: Tensor, is_novel: Tensor, alpha: float,
             beta: float) -> Tensor:
        """F-ViT's test-time fusion: p^(1-a) * v^a for base classes and the background,
        p^(1-b) * v^b for novel classes.

        Args:
            cls_probs: (N, C + 1) detector probabilities.
            vlm_probs: (N, C + 1) VLM probabilities.
            is_novel: (C,) bool.
            alpha: VLM weight of base classes (OV-COCO 0.1).
            beta: VLM weight of novel classes (OV-COCO 0.8).
        """
        novel = torch.cat([is_novel, is_novel.new_zeros(1)]).to(cls_probs.device)
        weight = torch.where(novel, torch.full_like(novel, beta, dtype=cls_probs.dtype),
                             torch.full_like(novel, alpha, dtype=cls_probs.dtype))
        return cls_probs.pow(1 - weight) * vlm_probs.pow(weight)
