"""F-ViT: an open-vocabulary two-stage detector on a frozen CLIP ViT.

Wu et al., "CLIPSelf: Vision Transformer Distills Itself for Open-Vocabulary Dense Prediction",
ICLR 2024; the authors' mmdet 2 code (wusize/CLIPSelf ``F-ViT/models/fvit.py``) rewritten for
mmdet 3: frozen CLIP ViT -> simple feature pyramid (:class:`CLIPViTPyramid`) -> FPN -> RPN ->
RoI head whose classifier is the class text embeddings (:class:`FViTBBoxHead`), trained on base
classes; at test time the VLM score of each box, from the same CLIP pass, is fused in
(:class:`FViTRoIHead`).

The class embeddings come from the backbone CLIP's own text tower (:class:`DetectionText`,
ViLD prompts by default, computed once on first use) instead of the authors' embedding files.
"""

from __future__ import annotations

import copy
import warnings

import torch
from mmdet.models.detectors import BaseDetector, TwoStageDetector
from torch import Tensor

from dense_clip.models.region import RegionEncoder
from dense_clip.registry import DET_MODELS
from dense_clip.utils.settings import merge_settings

from ...text import DetectionText
from ..common import clip_data_preprocessor

__all__ = ['FViT']

_TEXT = dict(vocabulary=None, class_split=None, templates='openai_imagenet',
             prompt_style='vild', cache_dir=None)
# F-ViT's VLM RoIAlign: SingleRoIExtractor(RoIAlign 1x1, sampling_ratio=0, use_torchvision=True)
# at stride 16, i.e. torchvision's default aligned=False.
_VLM_REGION = dict(output_size=1, sampling_ratio=0, aligned=False, normalize_dense=True)


@DET_MODELS.register_module()
class FViT(TwoStageDetector):
    """F-ViT (see the module docstring).

    Args:
        backbone: a :class:`CLIPViTPyramid` config.
        neck: FPN config; ``in_channels=None`` takes the CLIP width for all four levels.
        rpn_head, roi_head, train_cfg, test_cfg: as for mmdet's ``TwoStageDetector``;
            ``roi_head.bbox_head.fc_out_channels=None`` takes the CLIP embedding width.
        text: classes and prompts, see :class:`DetectionText` (``class_split`` is filled in
            from the dataset config by the tools).
        vlm_region: :class:`RegionEncoder` settings of the VLM score.
        data_preprocessor: default CLIP's normalisation (the authors' configs use ImageNet's;
            see configs/_base_/protocols.md).
    """

    def __init__(self, backbone: dict, neck: dict, rpn_head: dict, roi_head: dict,
                 text: dict | None = None, vlm_region: dict | None = None,
                 train_cfg: dict | None = None, test_cfg: dict | None = None,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = DET_MODELS.build(data_preprocessor or clip_data_preprocessor())
        # TwoStageDetector.__init__ builds its parts from fixed configs; the neck and box head
        # widths depend on the CLIP, so the parts are built here in the same way.
        BaseDetector.__init__(self, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = DET_MODELS.build(backbone)
        neck = copy.deepcopy(dict(neck))
        if neck.get('in_channels') is None:
            neck['in_channels'] = [self.backbone.width] * 4
        self.neck = DET_MODELS.build(neck)
        rpn_head = copy.deepcopy(dict(rpn_head))
        if rpn_head.get('num_classes', 1) != 1:
            warnings.warn('rpn_head.num_classes is set to 1 (class-agnostic proposals)',
                          stacklevel=2)
        rpn_head.update(num_classes=1, train_cfg=train_cfg.rpn if train_cfg else None,
                        test_cfg=test_cfg.rpn)
        self.rpn_head = DET_MODELS.build(rpn_head)
        roi_head = copy.deepcopy(dict(roi_head))
        bbox_head = dict(roi_head['bbox_head'])
        if bbox_head.get('fc_out_channels') is None:
            bbox_head['fc_out_channels'] = self.backbone.embed_dim
        roi_head.update(bbox_head=bbox_head, train_cfg=train_cfg.rcnn if train_cfg else None,
                        test_cfg=test_cfg.rcnn)
        self.roi_head = DET_MODELS.build(roi_head)
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        self.text = DetectionText(**merge_settings('text', text, _TEXT))
        self.vlm_region = RegionEncoder(self.backbone.encoder,
                                        **merge_settings('vlm_region', vlm_region, _VLM_REGION))

    def init_weights(self) -> None:
        """Initialises the trained parts and loads the CLIP; text embeddings are rebuilt."""
        super().init_weights()
        self.text.reset()

    # ------------------------------------------------------------------ features and text
    def _features(self, batch_inputs: Tensor):
        *levels, dense = self.backbone(batch_inputs)
        return self.neck(tuple(levels)), dense

    def extract_feat(self, batch_inputs: Tensor) -> tuple[Tensor, ...]:
        """FPN features (the dense pass is dropped; ``loss`` and ``predict`` keep it)."""
        return self._features(batch_inputs)[0]

    def _set_class_embeddings(self) -> None:
        backbone = self.backbone
        args = (backbone.clip_model, backbone.tokenizer, backbone.source)
        self.roi_head.bbox_head.classifier.set_class_embeddings(
            self.text.class_embeddings(*args), self.text.background_embedding(*args),
            self.text.novel_mask())

    # ------------------------------------------------------------------ mmdet interface
    def loss(self, batch_inputs: Tensor, batch_data_samples) -> dict:
        """RPN and RoI-head losses (base-class annotations; novel logits are masked)."""
        x, _ = self._features(batch_inputs)
        self._set_class_embeddings()
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_samples:  # the RPN is class-agnostic
            sample.gt_instances.labels = torch.zeros_like(sample.gt_instances.labels)
        rpn_losses, proposals = self.rpn_head.loss_and_predict(x, rpn_samples,
                                                               proposal_cfg=proposal_cfg)
        losses = {(f'rpn_{k}' if 'loss' in k and 'rpn' not in k else k): v
                  for k, v in rpn_losses.items()}
        losses.update(self.roi_head.loss(x, proposals, batch_data_samples))
        return losses

    def predict(self, batch_inputs: Tensor, batch_data_samples: list,
                rescale: bool = True) -> list:
        """Detections with the VLM score fused in (see :class:`FViTRoIHead`)."""
        x, dense = self._features(batch_inputs)
        self._set_class_embeddings()
        proposals = self.rpn_head.predict(x, batch_data_samples, rescale=False)
        with self.roi_head.using(dense=dense, region=self.vlm_region):
            results = self.roi_head.predict(x, proposals, batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self, batch_inputs: Tensor, batch_data_samples=None):
        x, dense = self._features(batch_inputs)
        self._set_class_embeddings()
        proposals = self.rpn_head.predict(x, batch_data_samples, rescale=False)
        with self.roi_head.using(dense=dense, region=self.vlm_region):
            return self.roi_head.forward(x, proposals, batch_data_samples)
