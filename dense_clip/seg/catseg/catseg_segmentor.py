"""CAT-Seg as an mmseg segmentor: text side, training loss and the authors' inference.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024;
authors' code KU-CVLAB/CAT-Seg (``cat_seg/cat_seg_model.py``, ``cat_seg/modeling/``). The model
itself is :class:`dense_clip.models.catseg.CATSegModel` (CLIP, guidance, cost aggregator); this
class adds what mmseg needs around it:

* the vocabulary (the dataset's class list, a training vocabulary, or one per image) turned into
  per-template text embeddings: the first alias of each class, as the authors (or every synonym,
  a class then scoring the max over its names), recomputed with autograd at every training step
  while the text tower trains and cached at inference;
* the loss (``loss.py``: per-class BCE, ignored pixels as negatives);
* inference (``views.py``): 'slide' (640x640 resize, 384 windows with 1/3 overlap and a global
  view, sigmoid scores averaged; the authors' evaluation) or 'whole' (one view), with the class
  aggregation pooling of the authors' evaluation (1x1, ``eval.sh``);
* fine-tuning: only the q and v projections of both CLIP towers train (``finetune.py``).

Departures from the paper and from the authors' code are listed in
``configs/_base_/protocols.md`` (CAT-Seg section).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from torch import Tensor

from dense_clip.models.catseg import (
    CATSegModel,
    apply_finetune,
    build_aggregator,
    class_names_for,
    encode_prompts,
)
from dense_clip.models.catseg.checkpoint import load_catseg_weights
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.text import (
    Vocabulary,
    build_vocabulary,
    get_templates,
    image_vocabulary,
    reduce_synonyms,
)
from dense_clip.registry import SEG_MODELS
from dense_clip.utils.settings import merge_settings

from .loss import catseg_bce_loss
from .views import slide_probabilities, whole_probabilities

__all__ = ['CATSegSegmentor']

# The authors' CLIP_PIXEL_MEAN / CLIP_PIXEL_STD (cat_seg/config.py), 0-255 RGB.
CATSEG_MEAN = [122.7709383, 116.7460125, 104.09373615]
CATSEG_STD = [68.5005327, 66.6321579, 70.3231630]

_TEXT_DEFAULTS = dict(vocabulary=None, train_vocabulary=None, templates='catseg',
                      synonyms='first')
_TEST_DEFAULTS = dict(mode='slide', slide_size=(640, 640), crop_size=384, overlap=0.333,
                      global_view=True, pooling_size=(1, 1), size_divisor=32, views_per_batch=5)
MODES = ('slide', 'whole')
#: Largest class x pixel count kept as full-size probabilities (1 GiB of float32).
MAX_FULL_PROBS = 2**28


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


@SEG_MODELS.register_module()
class CATSegSegmentor(BaseSegmentor):
    """CAT-Seg: cost aggregation over a fine-tuned CLIP.

    Args:
        clip: where the CLIP comes from (:class:`CLIPSource` arguments).
        clip_resolution: (H, W) every view is resized to before the CLIP (384 for ViT-B/16,
            336 for ViT-L/14@336).
        guidance_layers: image blocks guiding the decoder stages ((3, 7) for ViT-B, (7, 15) for
            ViT-L).
        guidance_dims: channels of the transposed convs upsampling them ((256, 128)).
        aggregator: sizes of the aggregator, :func:`build_aggregator` arguments except
            ``num_templates`` and ``embed_dim`` (taken from the templates and the CLIP).
        text: ``vocabulary`` (inference; None: the dataset's ``classnames``, copied here by the
            tools), ``train_vocabulary`` (None: ``vocabulary``), ``templates`` (a set name or a
            list; 'catseg' is the authors' single template) and ``synonyms`` ('first': the first
            alias of each class, as the authors; 'all': every synonym, a class scoring the max).
        finetune: which CLIP weights train: 'attention' (q and v of both towers, the authors'),
            'full' or 'none'.
        last_block: the dense last-block strategy ('CATSegDense', the authors').
        weights: CAT-Seg weights loaded by ``init_weights`` after the CLIP's: an authors'
            checkpoint, one in this codebase's keys, or 'dense_clip:catseg-tiny-synth'.
        test_cfg: ``mode`` ('slide' or 'whole'), ``slide_size``, ``crop_size``, ``overlap``,
            ``global_view``, ``pooling_size`` (class aggregation pooling at inference),
            ``size_divisor`` (whole-image padding) and ``views_per_batch``.
        train_cfg: unused (mmseg's signature).
        data_preprocessor: mmseg data preprocessor; default: the authors' CLIP normalisation.
        init_cfg: unused.
    """

    def __init__(
        self,
        clip: dict,
        clip_resolution: int | Sequence[int] = 384,
        guidance_layers: Sequence[int] = (3, 7),
        guidance_dims: Sequence[int] = (256, 128),
        aggregator: dict | None = None,
        text: dict | None = None,
        finetune: str = 'attention',
        last_block: str | dict = 'CATSegDense',
        weights: str | None = None,
        test_cfg: dict | None = None,
        train_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SegDataPreProcessor', mean=CATSEG_MEAN, std=CATSEG_STD,
                                     bgr_to_rgb=True)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = SEG_MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        text_cfg = merge_settings('text', text, _TEXT_DEFAULTS)
        test = merge_settings('test_cfg', test_cfg, _TEST_DEFAULTS)
        if test['mode'] not in MODES:
            raise ValueError(f"test_cfg.mode must be one of {MODES}, got {test['mode']!r}")
        class_names_for(Vocabulary(['x']), text_cfg['synonyms'])  # validates the mode
        self.source = CLIPSource(**clip)
        clip_model, self.tokenizer = self.source.build()
        self.templates = get_templates(text_cfg['templates'])
        embed_dim = clip_model.text_projection.shape[-1] if clip_model.text_projection is not None \
            else clip_model.ln_final.normalized_shape[0]
        agg = build_aggregator(len(self.templates), embed_dim, **dict(aggregator or {}))
        self.catseg = CATSegModel(clip_model, agg, guidance_layers, guidance_dims,
                                  _pair(clip_resolution), last_block)
        self.finetune = finetune
        self.trainable_clip = apply_finetune(clip_model, finetune)
        self.weights = weights
        self.synonyms = text_cfg['synonyms']
        self.vocabulary = (None if text_cfg['vocabulary'] is None
                           else build_vocabulary(text_cfg['vocabulary']))
        self.train_vocabulary = (None if text_cfg['train_vocabulary'] is None
                                 else build_vocabulary(text_cfg['train_vocabulary']))
        self.mode = test['mode']
        self.slide_size = _pair(test['slide_size'])
        self.crop_size = _pair(test['crop_size'])
        overlap = float(test['overlap'])
        if not 0 <= overlap < 1:
            raise ValueError(f'test_cfg.overlap must be in [0, 1), got {overlap}')
        # The authors' stride: int(kernel * (1 - overlap)) = 256 for 384 and 0.333.
        self.stride = tuple(max(int(c * (1 - overlap)), 1) for c in self.crop_size)
        self.global_view = bool(test['global_view'])
        self.test_pooling = (None if test['pooling_size'] is None
                             else _pair(test['pooling_size']))
        self.size_divisor = max(int(test['size_divisor']), 1)
        self.views_per_batch = max(int(test['views_per_batch']), 1)
        self._text_cache: dict[tuple, Tensor] = {}
        self.register_load_state_dict_pre_hook(lambda *args, **kwargs: self._text_cache.clear())

    # ----------------------------------------------------------------- weights and text
    @property
    def clip_model(self) -> torch.nn.Module:
        """The open_clip CLIP (both towers)."""
        return self.catseg.clip_model

    def init_weights(self) -> None:
        """Loads the CLIP named by ``clip``, then the CAT-Seg ``weights`` if set."""
        self.source.load_weights(self.clip_model)
        if self.weights is not None:
            keys = load_catseg_weights(self.catseg, self.weights)
            print_log(f'CAT-Seg: loaded {len(keys)} tensors from {self.weights}', logger='current')
        self._text_cache.clear()

    def vocabulary_of(self, metainfo: dict | None = None, training: bool = False) -> Vocabulary:
        """The vocabulary of one image: its own (``metainfo['vocabulary']``) or the model's."""
        default = (self.train_vocabulary or self.vocabulary) if training else self.vocabulary
        return image_vocabulary(metainfo, default)

    def _text_tower_trains(self) -> bool:
        return any(p.requires_grad for name, p in self.clip_model.named_parameters()
                   if not name.startswith('visual.'))

    def text_embeddings(self, vocabulary: Vocabulary) -> tuple[Tensor, list[int]]:
        """(K, P, D) embeddings of the names the aggregator scores, and the class of each.

        With autograd while training a trainable text tower; otherwise computed once per
        vocabulary and cached (the cache is cleared by ``train()`` and when weights load).
        """
        names, index = class_names_for(vocabulary, self.synonyms)
        if self.training and self._text_tower_trains() and torch.is_grad_enabled():
            return encode_prompts(self.clip_model, self.tokenizer, names, self.templates), index
        key = (tuple(names), self.training)
        if key not in self._text_cache:
            with torch.no_grad():
                self._text_cache[key] = encode_prompts(self.clip_model, self.tokenizer, names,
                                                       self.templates)
        return self._text_cache[key], index

    def train(self, mode: bool = True) -> CATSegSegmentor:
        """Switches mode; cached text embeddings are dropped (the text tower may change)."""
        self._text_cache.clear()
        return super().train(mode)

    # ----------------------------------------------------------------- scores
    def _reduce(self, scores: Tensor, index: list[int], num_classes: int) -> Tensor:
        """(B, N names, ...) -> (B, C classes, ...): max over each class's names."""
        if len(index) == num_classes:
            return scores
        return reduce_synonyms(scores, torch.tensor(index, device=scores.device))

    def image_probabilities(self, image: Tensor, vocabulary: Vocabulary) -> Tensor:
        """Per-class probabilities (C, h, w) of one normalised image (1, 3, H, W).

        'slide': on the ``slide_size`` frame; 'whole': on the logits' frame cropped to the
        image (see ``views.py``). Resize to the image size afterwards.
        """
        text, index = self.text_embeddings(vocabulary)

        def score(views: Tensor) -> Tensor:
            return self.catseg(views, text, pooling_size=self.test_pooling)

        if self.mode == 'slide':
            probs = slide_probabilities(image, score, self.slide_size, self.crop_size,
                                        self.stride, self.global_view, self.views_per_batch)
        else:
            probs = whole_probabilities(image, score, self.size_divisor)
        return self._reduce(probs[None], index, vocabulary.num_classes)[0]

    # ----------------------------------------------------------------- mmseg interface
    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """Per-class BCE of the batch (the vocabulary of its first sample, or the model's)."""
        vocabulary = self.vocabulary_of(data_samples[0].metainfo, training=True)
        text, index = self.text_embeddings(vocabulary)
        logits = self.catseg(inputs, text)
        logits = self._reduce(logits, index, vocabulary.num_classes)
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
        return {'loss_sem_seg': catseg_bce_loss(logits, labels, ignore_index=255)}

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list | None = None) -> list:
        """Class probabilities (``seg_logits``) and labels at each image's original size."""
        from mmseg.structures import SegDataSample

        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(ori_shape=inputs.shape[2:],
                                                         img_shape=inputs.shape[2:]))
                            for _ in range(inputs.shape[0])]
        for image, sample in zip(inputs, data_samples):
            probs, labels = self._predict_one(image, sample.metainfo)
            sample.set_data({'seg_logits': PixelData(data=probs),
                             'pred_sem_seg': PixelData(data=labels)})
        return data_samples

    def _predict_one(self, image: Tensor, meta: dict) -> tuple[Tensor, Tensor]:
        """(probabilities, (1, H0, W0) labels) of one image at its original size (H0, W0).

        When the probabilities at the original size would exceed ``MAX_FULL_PROBS`` values
        (847 classes on a large photo), the labels are resized class chunk by class chunk (the
        same argmax) and the probabilities stay on the inference frame; this is logged.
        """
        img_shape = tuple(meta.get('img_shape', image.shape[-2:]))[:2]
        ori_shape = tuple(meta.get('ori_shape', img_shape))[:2]
        image = image[None, :, :img_shape[0], :img_shape[1]]  # drop batch padding
        probs = self.image_probabilities(image, self.vocabulary_of(meta))
        if probs.shape[0] * ori_shape[0] * ori_shape[1] <= MAX_FULL_PROBS:
            probs = F.interpolate(probs[None], size=ori_shape, mode='bilinear',
                                  align_corners=False)[0]
            return probs, probs.argmax(dim=0, keepdim=True)
        print_log(f'CAT-Seg: {probs.shape[0]} classes x {ori_shape} exceed {MAX_FULL_PROBS} '
                  f'values; seg_logits stay at {tuple(probs.shape[-2:])}, labels are resized by '
                  'class chunks', logger='current', level=logging.WARNING)
        best = probs.new_full((1, *ori_shape), -1.0)
        labels = torch.zeros((1, *ori_shape), dtype=torch.long, device=probs.device)
        for start in range(0, probs.shape[0], 32):
            up = F.interpolate(probs[None, start:start + 32], size=ori_shape, mode='bilinear',
                               align_corners=False)[0]
            value, index = up.max(dim=0, keepdim=True)
            better = value > best
            best = torch.where(better, value, best)
            labels = torch.where(better, index + start, labels)
        return probs, labels

    def _forward(self, inputs: Tensor, data_samples: list | None = None) -> Tensor:
        """Class probabilities (B, C, H, W) at the input size (mmseg's tensor mode)."""
        metas = [s.metainfo for s in data_samples] if data_samples else [{}] * len(inputs)
        return self.encode_decode(inputs, metas)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Dense CLIP features (B, D, h, w) at the CLIP resolution."""
        images = F.interpolate(inputs, size=self.catseg.clip_resolution, mode='bilinear',
                               align_corners=False)
        return self.catseg.encoder(images).dense

    def encode_decode(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        out = []
        for image, meta in zip(inputs, batch_img_metas):
            probs = self.image_probabilities(image[None], self.vocabulary_of(meta))
            out.append(F.interpolate(probs[None], size=image.shape[-2:], mode='bilinear',
                                     align_corners=False))
        return torch.cat(out)
