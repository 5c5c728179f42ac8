"""Open-vocabulary instance segmentation: Segment Anything's masks, classified by dense CLIP.

The "SAM + CLIP" recipe with mask pooling (masks: Kirillov et al., "Segment Anything", ICCV
2023, its automatic generator wrapped by :class:`~dense_clip.models.sam.SAMAutomaticMasks`;
mask embeddings by pooling one dense pass, as CLIPSelf / F-ViT pool dense features, Wu et al.,
ICLR 2024): one CLIP pass over the image (any last-block strategy, any tower), one matmul for
every mask's embedding, cosine with the text classifier, a no-object rule, and mmdet
``DetDataSample.pred_instances`` (masks, boxes, labels, scores) for mmdet's COCO / LVIS metrics.
With ``generator='ground_truth'`` the data sample's annotated masks are the proposals (the
pipeline's upper bound: classification alone).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from mmdet.models.detectors import BaseDetector
from mmdet.structures import DetDataSample
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from torch import Tensor, nn

from dense_clip.models.clip import CLIPDenseEncoder
from dense_clip.models.clip.constants import CLIP_MEAN, CLIP_STD
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.masks import MaskGenerator, MaskProposals, classify_masks, mask_pool
from dense_clip.models.text import (
    TextEmbeddingCache,
    Vocabulary,
    build_vocabulary,
    embed_vocabulary,
    get_templates,
)
from dense_clip.registry import DET_MODELS, MASK_GENERATORS, build_component
from dense_clip.utils.settings import merge_settings

__all__ = ['SAMInstanceSegmentor']

# CLIP's pixel statistics in 0-255 space (OpenAI's preprocessing).
GROUND_TRUTH = 'ground_truth'
SCORE_MODES = ('class', 'class_x_quality')
_ENCODER_DEFAULTS = dict(last_block='maskclip', pos_embed_interp='size')
_TEXT_DEFAULTS = dict(vocabulary=None, templates='openai_imagenet', cache_dir=None)


@DET_MODELS.register_module()
class SAMInstanceSegmentor(BaseDetector):
    """SAM masks + dense CLIP mask classification, as an mmdet detector (test only).

    Args:
        clip: :class:`CLIPSource` arguments (``model_name``, ``pretrained``, ``model_cfg``,
            ``precision``).
        encoder: ``last_block`` (any registered strategy; default 'maskclip', whose value-path
            map is what mask pooling reads in CLIPSelf / F-ViT) and ``pos_embed_interp``.
        text: ``vocabulary`` (anything ``build_vocabulary`` takes; None: the config's
            ``classnames``, which the tools copy here), ``templates``, ``cache_dir``. A
            background class in the vocabulary is the "no object" class; the others are the
            dataset's classes, in order.
        generator: a registered mask generator config (``MASK_GENERATORS``; default SAM's
            automatic generator) or ``'ground_truth'`` (the sample's ``gt_instances.masks``).
        logit_scale: scale of the softmax over class names (CLIP's own 100).
        score_thresh: masks whose class probability is below this are "no object".
        score_mode: 'class' (instance score = class probability) or 'class_x_quality' (times
            the mask's quality, SAM's predicted IoU).
        max_per_img: keep at most this many instances, best scores first.
        data_preprocessor: mmdet's; defaults to CLIP's normalisation of RGB images.
        init_cfg: unused.
    """

    def __init__(self, clip: dict, encoder: dict | None = None, text: dict | None = None,
                 generator: dict | str | MaskGenerator | None = None, logit_scale: float = 100.0,
                 score_thresh: float = 0.0, score_mode: str = 'class_x_quality',
                 max_per_img: int = 100, data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='DetDataPreprocessor', mean=CLIP_MEAN, std=CLIP_STD,
                                     bgr_to_rgb=True)
        if isinstance(data_preprocessor, dict):
            with DefaultScope.overwrite_default_scope('mmdet'):
                data_preprocessor = DET_MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if score_mode not in SCORE_MODES:
            raise ValueError(f'unknown score_mode {score_mode!r}; valid: {SCORE_MODES}')
        encoder_cfg = merge_settings('encoder', encoder, _ENCODER_DEFAULTS)
        text_cfg = merge_settings('text', text, _TEXT_DEFAULTS)
        self.source = CLIPSource(**clip)
        model, self.tokenizer = self.source.build()
        self.clip_model = model.requires_grad_(False)
        self.encoder = CLIPDenseEncoder(model, last_block=encoder_cfg['last_block'],
                                        pos_embed_interp=encoder_cfg['pos_embed_interp'],
                                        vanilla_cls=False)
        if generator == GROUND_TRUTH:
            self.generator = None
        else:
            self.generator = build_component(MASK_GENERATORS,
                                             generator or dict(type='SAMAutomaticMasks'),
                                             MaskGenerator)
        self.vocabulary = (None if text_cfg['vocabulary'] is None
                           else build_vocabulary(text_cfg['vocabulary']))
        self.templates = get_templates(text_cfg['templates'])
        cache_dir = text_cfg['cache_dir']
        self.text_cache = None if cache_dir is False else TextEmbeddingCache(cache_dir)
        self.logit_scale = float(logit_scale)
        self.score_thresh = float(score_thresh)
        self.score_mode = score_mode
        self.max_per_img = int(max_per_img)
        self._text: dict[Vocabulary, Tensor] = {}

    # ------------------------------------------------------------------ weights and text
    def init_weights(self) -> None:
        """Loads CLIP's weights and the mask generator's."""
        self.source.load_weights(self.clip_model)
        if self.generator is not None:
            self.generator.init_weights()
        self._text.clear()

    def text_embeddings(self) -> tuple[Vocabulary, Tensor]:
        """The vocabulary and its (S, D) L2-normalised name embeddings (computed once)."""
        if self.vocabulary is None:
            raise ValueError('no vocabulary: set model.text.vocabulary or the config\'s '
                             '`classnames`')
        vocabulary = self.vocabulary
        if vocabulary not in self._text:
            self._text[vocabulary] = embed_vocabulary(self.clip_model, self.tokenizer, vocabulary,
                                                      self.templates, self.text_cache, self.source)
        return vocabulary, self._text[vocabulary]

    # ------------------------------------------------------------------ one image
    def rgb_image(self, image: Tensor) -> Tensor:
        """The normalised (3, H, W) input as (H, W, 3) uint8 RGB (SAM's input)."""
        mean = getattr(self.data_preprocessor, 'mean', None)
        std = getattr(self.data_preprocessor, 'std', None)
        pixels = image.float()
        if mean is not None and std is not None:
            pixels = pixels * std.reshape(-1, 1, 1).to(pixels) + mean.reshape(-1, 1, 1).to(pixels)
        return pixels.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()

    def proposals(self, image: Tensor, sample: DetDataSample) -> MaskProposals:
        """Class-agnostic masks of one (3, H, W) input, at (H, W)."""
        height, width = image.shape[-2:]
        if self.generator is None:
            gt = sample.gt_instances if 'gt_instances' in sample else None
            if gt is None or 'masks' not in gt:
                raise ValueError("generator='ground_truth' needs gt_instances.masks: load them "
                                 'in the test pipeline (LoadAnnotations with_mask=True)')
            masks = gt.masks
            masks = masks.to_tensor(torch.bool, image.device) if hasattr(masks, 'to_tensor') \
                else torch.as_tensor(masks).bool()
            proposals = MaskProposals.from_masks(masks[:, :height, :width].cpu())
            proposals.check_image_size(height, width, 'the ground truth')
            return proposals
        proposals = self.generator(self.rgb_image(image))
        proposals.check_image_size(height, width, type(self.generator).__name__)
        return proposals

    def dense_features(self, image: Tensor) -> Tensor:
        """(D, h, w) dense joint-space features of one normalised (3, H, W) input."""
        dtype = next(self.clip_model.parameters()).dtype
        return self.encoder(image[None].to(dtype)).dense[0].float()

    def classify(self, image: Tensor, sample: DetDataSample) -> tuple[MaskProposals, Any, Tensor]:
        """Proposals of one image, their classification and the dense features."""
        vocabulary, text = self.text_embeddings()
        proposals = self.proposals(image, sample)
        features = self.dense_features(image)
        pooled = mask_pool(features, proposals.masks.to(features.device))
        result = classify_masks(pooled, text, vocabulary.synonym_index(features.device),
                                vocabulary.num_classes, self.logit_scale,
                                vocabulary.background_index, self.score_thresh)
        return proposals, result, features

    def instances(self, proposals: MaskProposals, result: Any) -> InstanceData:
        """Object masks as mmdet instances at the input resolution, best first."""
        scores = result.scores.cpu()
        if self.score_mode == 'class_x_quality':
            scores = scores * proposals.scores
        keep = result.is_object.cpu().nonzero(as_tuple=True)[0]
        keep = keep[torch.argsort(scores[keep], descending=True, stable=True)][:self.max_per_img]
        labels = result.labels.cpu()[keep]
        background = self.vocabulary.background_index
        if background is not None:  # the dataset's classes are the vocabulary's others
            labels = labels - (labels > background).long()
        return InstanceData(masks=proposals.masks[keep], bboxes=proposals.boxes[keep],
                            labels=labels, scores=scores[keep])

    @staticmethod
    def rescale(instances: InstanceData, meta: dict) -> InstanceData:
        """Instances at the input resolution -> at the original image's (mmdet's rescale)."""
        height, width = meta['img_shape'][:2]
        ori_h, ori_w = meta['ori_shape'][:2]
        if (height, width) == (ori_h, ori_w):
            return instances
        masks = instances.masks
        if len(masks):
            masks = F.interpolate(masks[:, None].float(), size=(ori_h, ori_w),
                                  mode='nearest')[:, 0].bool()
        else:
            masks = masks.new_zeros(0, ori_h, ori_w)
        scale = torch.tensor([ori_w / width, ori_h / height] * 2, dtype=torch.float32)
        return InstanceData(masks=masks, bboxes=instances.bboxes * scale,
                            labels=instances.labels, scores=instances.scores)

    # ------------------------------------------------------------------ mmdet interface
    @torch.no_grad()
    def predict(self, batch_inputs: Tensor, batch_data_samples: list,
                rescale: bool = True) -> list:
        """Adds ``pred_instances`` (masks (N, H, W) bool, bboxes (N, 4), labels, scores)."""
        for image, sample in zip(batch_inputs, batch_data_samples):
            height, width = sample.metainfo.get('img_shape', image.shape[-2:])[:2]
            self.predict_one(image[:, :height, :width], sample, rescale)
        return batch_data_samples

    def predict_one(self, image: Tensor, sample: DetDataSample, rescale: bool) -> None:
        """Sets the predictions of one input without its padding, (3, h, w)."""
        proposals, result, _ = self.classify(image, sample)
        instances = self.instances(proposals, result)
        sample.pred_instances = self.rescale(instances, sample.metainfo) if rescale else instances

    def loss(self, batch_inputs: Tensor, batch_data_samples: list) -> dict:
        raise NotImplementedError(f'{type(self).__name__} is training-free: use tools/test.py')

    def _forward(self, batch_inputs: Tensor, batch_data_samples: list | None = None) -> Tensor:
        return torch.stack([self.dense_features(image) for image in batch_inputs])

    def extract_feat(self, batch_inputs: Tensor) -> Tensor:
        return self._forward(batch_inputs)

    def train(self, mode: bool = True) -> nn.Module:
        """Always eval: nothing here trains."""
        return super().train(False)
