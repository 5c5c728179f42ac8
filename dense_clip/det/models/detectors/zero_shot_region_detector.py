"""RegionCLIP-style zero-shot detection: given boxes, classified by their CLIP region embeddings.

Zhong et al., "RegionCLIP: Region-based Language-Image Pretraining", CVPR 2022; settings from the
authors' code (microsoft/RegionCLIP): ``CLIPFastRCNN`` in
``detectron2/modeling/meta_arch/clip_rcnn.py`` with ``CLIPRes5ROIHeads`` and the zero-shot
configs ``configs/{COCO,LVISv1}-InstanceSegmentation/CLIP_fast_rcnn_R_50_C4*_zsinf.yaml``:

* boxes are the ground-truth boxes ("box classification" protocol, ``CROP_REGION_TYPE: GT``,
  no box regression) or external proposals (``RPN``; here a proposal file);
* region embedding: :class:`~dense_clip.models.region.RegionEncoder` (ResNet: RoIAlign 14x14 on
  C4, ``layer4``, attention pool; ViT: the value-path dense map, RoIAlign);
* scores: softmax of cos / 0.01 over the classes and a zero background embedding, background
  column dropped; with proposals, optionally sqrt(class score x proposal score)
  (``MULTIPLY_RPN_SCORE``);
* per-class NMS 0.5, score threshold 0.001 (LVIS GT: 0.0001), 100 detections per image.

One CLIP pass per batch, whatever the number of boxes. Training-free: ``loss`` raises.
"""

from __future__ import annotations

import torch
from mmdet.models.detectors import BaseDetector
from mmdet.models.layers import multiclass_nms
from mmengine.structures import InstanceData
from torch import Tensor

from dense_clip.models.clip import CLIPDenseEncoder, DenseOutput
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.region import RegionClassifier, RegionEncoder
from dense_clip.registry import DET_MODELS
from dense_clip.utils.settings import merge_settings

from ...text import DetectionText
from ..common import clip_data_preprocessor, proposals_of, set_unregistered

__all__ = ['ZeroShotRegionDetector']

PROPOSAL_SOURCES = ('gt', 'file')
PROPOSAL_SCORES = ('none', 'geometric')
_ENCODER = dict(last_block='maskclip', pos_embed_interp='size')
_REGION = dict(output_size=None, sampling_ratio=0, aligned=True, normalize_dense=True)
_TEXT = dict(vocabulary=None, class_split=None, templates='openai_imagenet',
             prompt_style='clip', cache_dir=None)
_CLASSIFIER = dict(temperature=0.01, background='zero', score_thresh=0.0)
_TEST = dict(score_thr=0.001, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
             proposal_score='none')


@DET_MODELS.register_module()
class ZeroShotRegionDetector(BaseDetector):
    """Classifies given boxes with CLIP region embeddings (no training).

    Args:
        clip: :class:`CLIPSource` settings (``model_name``, ``pretrained``, ``model_cfg``,
            ``precision``).
        encoder: ``last_block`` (ViT dense map: 'maskclip') and ``pos_embed_interp``.
        region: :class:`RegionEncoder` settings (``output_size``, ``sampling_ratio``,
            ``aligned``, ``normalize_dense``).
        text: ``class_split`` or ``vocabulary``, ``templates``, ``prompt_style`` ('clip' or
            'vild'), ``cache_dir``; see :class:`DetectionText`.
        classifier: ``temperature`` and ``background`` ('zero' or 'none').
        proposals: 'gt' (ground-truth boxes) or 'file' (the dataset's proposal file).
        test_cfg: ``score_thr``, ``nms`` (mmcv NMS config), ``max_per_img``,
            ``proposal_score`` ('none' or 'geometric': sqrt(class x proposal score)).
        data_preprocessor: mmdet preprocessor; default CLIP's normalisation, RGB, pad to 32.
    """

    def __init__(self, clip: dict, encoder: dict | None = None, region: dict | None = None,
                 text: dict | None = None, classifier: dict | None = None,
                 proposals: str = 'gt', test_cfg: dict | None = None,
                 train_cfg: dict | None = None, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        if proposals not in PROPOSAL_SOURCES:
            raise ValueError(f'proposals must be one of {PROPOSAL_SOURCES}, got {proposals!r}')
        test = merge_settings('test_cfg', test_cfg, _TEST)
        if test['proposal_score'] not in PROPOSAL_SCORES:
            raise ValueError(f'test_cfg.proposal_score must be one of {PROPOSAL_SCORES}, got '
                             f"{test['proposal_score']!r}")
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = DET_MODELS.build(data_preprocessor or clip_data_preprocessor())
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.source = CLIPSource(**clip)
        model, self.tokenizer = self.source.build()
        self.clip_model = model.requires_grad_(False)
        set_unregistered(self, 'encoder', CLIPDenseEncoder(
            model, **merge_settings('encoder', encoder, _ENCODER), vanilla_cls=False))
        self.region = RegionEncoder(self.encoder, **merge_settings('region', region, _REGION))
        self.text = DetectionText(**merge_settings('text', text, _TEXT))
        self.classifier = RegionClassifier(**merge_settings('classifier', classifier, _CLASSIFIER))
        self.proposals = proposals
        self.test_settings = test

    # ------------------------------------------------------------------ weights and text
    def init_weights(self) -> None:
        """Loads the CLIP weights named by ``clip``; text embeddings are rebuilt lazily."""
        self.source.load_weights(self.clip_model)
        self.text.reset()

    def text_embeddings(self) -> Tensor:
        """(S, D) synonym embeddings of the vocabulary."""
        return self.text.embeddings(self.clip_model, self.tokenizer, self.source)

    # ------------------------------------------------------------------ mmdet interface
    def extract_feat(self, batch_inputs: Tensor) -> DenseOutput:
        dtype = next(self.clip_model.parameters()).dtype
        return self.encoder(batch_inputs.to(dtype), request=self.region.request)

    def _forward(self, batch_inputs: Tensor, batch_data_samples=None):
        return (self.extract_feat(batch_inputs).dense,)

    def loss(self, batch_inputs: Tensor, batch_data_samples) -> dict:
        raise NotImplementedError('ZeroShotRegionDetector is training-free: use tools/test.py')

    @torch.no_grad()
    def predict(self, batch_inputs: Tensor, batch_data_samples: list,
                rescale: bool = True) -> list:
        """Detections for a batch: classified boxes after per-class NMS.

        Returns:
            the data samples with ``pred_instances`` (bboxes (k, 4) in original pixels when
            ``rescale``, scores (k,), labels (k,) int64).
        """
        dense = self.extract_feat(batch_inputs)
        boxes, box_scores = [], []
        for i, sample in enumerate(batch_data_samples):
            b, s = proposals_of(sample, self.proposals, i)
            boxes.append(b.to(batch_inputs.device))
            box_scores.append(s.to(batch_inputs.device))
        sizes = [tuple(s.metainfo['img_shape'][:2]) for s in batch_data_samples]
        embeddings = self.region(dense, boxes, sizes, allow_empty=True)
        pred = self.classifier(embeddings, self.text_embeddings(), self.text.vocabulary)
        results = []
        for sample, b, s, probs in zip(batch_data_samples, boxes, box_scores,
                                       pred.probs.split([len(b) for b in boxes])):
            results.append(self._detections(sample, b, s, probs, rescale))
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _detections(self, sample, boxes: Tensor, box_scores: Tensor, probs: Tensor,
                    rescale: bool) -> InstanceData:
        test = self.test_settings
        if test['proposal_score'] == 'geometric':
            probs = (probs * box_scores[:, None].clamp(min=0)).sqrt()
        result = InstanceData()
        if boxes.shape[0]:
            scores = torch.cat([probs, probs.new_zeros(probs.shape[0], 1)], dim=1)
            dets, labels = multiclass_nms(boxes, scores, test['score_thr'], test['nms'],
                                          test['max_per_img'])
            boxes_out, scores_out = dets[:, :4], dets[:, 4]
        else:
            boxes_out, scores_out = boxes.new_zeros(0, 4), boxes.new_zeros(0)
            labels = boxes.new_zeros(0, dtype=torch.long)
        if rescale and boxes_out.shape[0]:
            scale = sample.metainfo['scale_factor']
            boxes_out = boxes_out / boxes_out.new_tensor([scale[0], scale[1]] * 2)
        result.bboxes, result.scores, result.labels = boxes_out, scores_out, labels
        return result

    def train(self, mode: bool = True) -> ZeroShotRegionDetector:
        super().train(mode)
        self.clip_model.eval()
        return self
