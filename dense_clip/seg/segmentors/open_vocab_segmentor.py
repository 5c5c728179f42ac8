"""Open-vocabulary semantic segmentation with a CLIP image and text tower.

One segmentor serves every method of the family: the training-free ones (MaskCLIP, SCLIP,
ClearCLIP, NACLIP, CLIPtrase, ProxyCLIP) and CLIP-DINOiser. It is composed, mmseg-style, from
parts built from the config:

* ``encoder``: the dense pass (:class:`~dense_clip.models.clip.CLIPDenseEncoder` with the
  method's last-block strategy);
* ``head``: per-name scores from that pass (``SEG_HEADS``: the cosine head of the training-free
  methods, CLIP-DINOiser's head);
* ``steps``: an ordered list of registered steps, each acting at one stage (``SEG_STEPS``:
  prompt denoising, key smoothing, CLS re-weighting, PAMR, CLIPtrase's cluster vote, ...);
* ``test_cfg``: whole-image or sliding-window inference (mmseg's window grid) and how sizes
  that are not a multiple of the patch are handled.

The prediction follows the protocol of the authors' code (SCLIP, ClearCLIP, NACLIP): per-window
scores upsampled to the window, averaged over windows, resized to the original image, image
steps (PAMR), then a softmax over all class names (cosine scores are first multiplied by
``logit_scale``), the max over each class's synonyms, the area and probability thresholds that
hand pixels to class 0, and the labels steps. Every method's settings and their sources are in
``configs/_base_/protocols.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from torch import Tensor, nn

from dense_clip.models.clip import CLIPDenseEncoder, DenseOutput, DenseRequest
from dense_clip.models.clip.constants import CLIP_MEAN, CLIP_STD
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.text import (
    TextEmbeddingCache,
    Vocabulary,
    build_vocabulary,
    embed_vocabulary,
    get_templates,
    image_vocabulary,
)
from dense_clip.registry import SEG_HEADS, SEG_MODELS, SEG_STEPS, build_component, check_arguments
from dense_clip.utils.settings import merge_settings

from ..heads import SegHead
from ..inference import (
    check_whole_image_tokens,
    choose_probs_mode,
    finalise_prediction,
    pad_windows,
    window_grid,
)
from ..steps import Prediction, SegStep, StepContext, to_name_probs
from ..top_class import class_chunks, stream_decision
from ..window_store import ComputedScores, WindowStore, upsample_window_scores
from .inference_settings import InferenceSettings

__all__ = ['OpenVocabSegmentor', 'WindowScores']

# CLIP's pixel statistics in 0-255 space (OpenAI's preprocessing).

_ENCODER_DEFAULTS = dict(last_block='vanilla', pos_embed_interp='size')
_TEXT_DEFAULTS = dict(vocabulary=None, templates='openai_imagenet', cache_dir=None)
# In 'top' mode, each chunk of class names is rendered in about this many bytes per map.
_CHUNK_BYTES = 128 << 20


class WindowScores(NamedTuple):
    """What :meth:`OpenVocabSegmentor.window_scores` returns.

    Attributes:
        scores: (N, S, h, w) per-name scores, at window resolution or on the patch grid.
        space: their score space ('cosine', 'logit' or 'prob').
        dense: the dense pass over the windows.
    """

    scores: Tensor
    space: str
    dense: DenseOutput


@SEG_MODELS.register_module()
class OpenVocabSegmentor(BaseSegmentor):
    """Segments any list of class names with a CLIP.

    Args:
        clip: where the CLIP comes from, see :class:`CLIPSource` (``model_name``,
            ``pretrained``, ``model_cfg``, ``precision``).
        encoder: ``last_block`` (a registered strategy name or a dict with ``type``: 'vanilla',
            'maskclip', 'sclip', 'clearclip', 'naclip', 'cliptrase', 'proxyclip') and
            ``pos_embed_interp`` ('size': bicubic to the grid; 'authors': the DINO-style
            ``scale_factor=(g + 0.1) / g0`` interpolation of the reference repositories).
        text: ``vocabulary`` (anything :func:`build_vocabulary` takes; None: the dataset's
            ``classnames``, which the tools copy here, or a per-image vocabulary in the data
            samples), ``templates`` (a set name or a list) and ``cache_dir`` (on-disk
            text-embedding cache; None: the default folder, False: off).
        head: a registered head (default ``dict(type='CosineHead')``).
        steps: registered steps in order (see ``dense_clip.seg.steps``).
        logit_scale: multiplies 'cosine' scores before the softmax over class names.
        prob_thresh: pixels whose top class probability is below it become class 0.
        area_thresh: classes covering at most this fraction of the predicted foreground become
            background (SCLIP's ``area_thd``); None disables it.
        test_cfg: how an image becomes a prediction: ``mode`` ('slide' or 'whole'),
            ``crop_size``, ``stride``, ``windows_per_batch``, ``patch_remainder``, ``probs``
            ('full', 'top' or 'auto'), ``max_probs_mb``, ``max_tokens``; see
            :class:`InferenceSettings`.
        train_cfg: unused (mmseg's signature).
        data_preprocessor: mmseg data preprocessor; defaults to CLIP's normalisation.
        init_cfg: unused (weights come from ``clip`` and the head's own settings).
    """

    #: Takes ``test_cfg.probs`` / ``max_probs_mb`` (the inferencer bounds memory through them).
    BOUNDED_PROBS = True

    def __init__(
        self,
        clip: dict,
        encoder: dict | None = None,
        text: dict | None = None,
        head: dict | SegHead | None = None,
        steps: Sequence[dict | SegStep] = (),
        logit_scale: float = 40.0,
        prob_thresh: float = 0.0,
        area_thresh: float | None = None,
        test_cfg: dict | None = None,
        train_cfg: dict | None = None,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SegDataPreProcessor', mean=CLIP_MEAN, std=CLIP_STD,
                                     bgr_to_rgb=True)
        if isinstance(data_preprocessor, dict):  # mmseg's, whatever the default scope
            with DefaultScope.overwrite_default_scope('mmseg'):
                data_preprocessor = SEG_MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        encoder_cfg = merge_settings('encoder', encoder, _ENCODER_DEFAULTS)
        text_cfg = merge_settings('text', text, _TEXT_DEFAULTS)
        test = InferenceSettings.from_cfg(test_cfg)
        check_arguments(CLIPSource, clip, 'clip')
        self.source = CLIPSource(**clip)
        model, self.tokenizer = self.source.build()
        self.clip_model = model.requires_grad_(False)
        # The image embedding is only read by steps (ClsReweight): pool it from the strategy's
        # tokens rather than running CLIP's own last block a second time.
        self.encoder = CLIPDenseEncoder(model, last_block=encoder_cfg['last_block'],
                                        pos_embed_interp=encoder_cfg['pos_embed_interp'],
                                        vanilla_cls=False)
        self.head = build_component(SEG_HEADS, head or dict(type='CosineHead'), SegHead)
        self.head.setup(self.encoder)
        self.steps = nn.ModuleList(build_component(SEG_STEPS, s, SegStep) for s in steps)
        self.vocabulary = (None if text_cfg['vocabulary'] is None
                           else build_vocabulary(text_cfg['vocabulary']))
        self.templates = get_templates(text_cfg['templates'])
        cache_dir = text_cfg['cache_dir']
        self.text_cache = None if cache_dir is False else TextEmbeddingCache(cache_dir)
        self.logit_scale = float(logit_scale)
        self.prob_thresh = float(prob_thresh)
        self.area_thresh = area_thresh
        self.settings = test
        self.mode, self.patch_remainder = test.mode, test.patch_remainder
        self.crop_size, self.stride = test.crop_size, test.stride
        self.windows_per_batch = test.windows_per_batch
        self.request = DenseRequest.combine(
            [self.head.request] + [s.request for s in self.steps if s.stage == 'window'])
        self._check_steps()
        self._text_embeddings: dict[Vocabulary, Tensor] = {}

    def _check_steps(self) -> None:
        """Rejects steps that this tower, strategy or mode cannot serve (at build time)."""
        strategy = self.encoder.last_block
        for step in self.steps:
            name = type(step).__name__
            request = step.request
            if self.encoder.arch != 'vit' and (request.last_qkv or request.block_inputs
                                               or request.ffn_inputs):
                raise ValueError(f'{name} reads transformer blocks: it needs a ViT CLIP, got a '
                                 f'{self.encoder.arch} image tower')
            if step.needs_whole_image and self.mode != 'whole':
                raise ValueError(f"{name} needs test_cfg.mode='whole', got {self.mode!r}")
            missing = [e for e in step.needs_extras if e not in strategy.extras_names]
            if missing:
                raise ValueError(f'{name} needs {missing} from the last block, which '
                                 f'{type(strategy).__name__} does not give (e.g. '
                                 "last_block='cliptrase' gives 'self_correlation')")

    # ----------------------------------------------------------------- weights and text
    def init_weights(self) -> None:
        """Loads the pretrained CLIP weights named by ``clip``, the head's own weights and
        those of steps that own a model (e.g. SAM), so a wrong file fails before the first
        image."""
        self.source.load_weights(self.clip_model)
        self.head.init_weights()
        for step in self.steps:
            if callable(getattr(step, 'init_weights', None)):
                step.init_weights()
        self._text_embeddings.clear()

    def text_embeddings(self, vocabulary: Vocabulary) -> Tensor:
        """Class-name embeddings (S, D), L2-normalised, computed once per vocabulary."""
        if vocabulary not in self._text_embeddings:
            self._text_embeddings[vocabulary] = embed_vocabulary(
                self.clip_model, self.tokenizer, vocabulary, self.templates, self.text_cache,
                self.source)
        return self._text_embeddings[vocabulary]

    def vocabulary_of(self, metainfo: dict | None = None) -> Vocabulary:
        """The vocabulary of one image: its own (``metainfo['vocabulary']``) or the model's."""
        return image_vocabulary(metainfo, self.vocabulary)

    # ----------------------------------------------------------------- dense scores
    def _context(self, vocabulary: Vocabulary) -> StepContext:
        return StepContext(vocabulary=vocabulary, text=self.text_embeddings(vocabulary),
                           logit_scale=self.logit_scale)

    def _pad_value(self) -> Tensor | float:
        """A black pixel (0 in the input's value range) after the data preprocessor."""
        mean = getattr(self.data_preprocessor, 'mean', None)
        std = getattr(self.data_preprocessor, 'std', None)
        if mean is None or std is None:
            return 0.0
        return (-mean / std).reshape(1, -1, 1, 1)

    def window_scores(self, windows: Tensor, vocabulary: Vocabulary | Any = None,
                      upsample: bool = True) -> WindowScores:
        """Per-name scores of a batch of windows, after the head and the window steps.

        Args:
            windows: (N, 3, h, w) CLIP-normalised windows (one size).
            vocabulary: the classes (anything :func:`build_vocabulary` takes); None: the
                model's.
            upsample: True: scores at window resolution (bilinear, as every method does);
                False: on the patch grid, before any upsampling (to inspect or compare).

        Returns:
            :class:`WindowScores` (scores (N, S, h, w) or (N, S, grid), space, dense pass).
        """
        vocabulary = self.vocabulary_of(None if vocabulary is None
                                        else {'vocabulary': vocabulary})
        return self._window_scores(windows, self._context(vocabulary), upsample)

    def _window_grid(self, windows: Tensor, ctx: StepContext,
                     lazy: bool = False) -> tuple[Prediction, DenseOutput, tuple, tuple]:
        """Head and window steps on the patch grid: (prediction, pass, padded size, padding).

        ``lazy`` (no window steps): the prediction's scores may be the head's lazy scores."""
        padded, padding = pad_windows(windows, self.patch_remainder, self.encoder.patch_size,
                                      self._pad_value())
        dtype = next(self.clip_model.parameters()).dtype
        dense = self.encoder(padded.to(dtype), request=self.request)
        scores = self.head.lazy_scores(dense, ctx.text, ctx.vocabulary) if lazy else None
        if scores is not None:
            return (Prediction(scores=scores, space=scores.space), dense,
                    tuple(padded.shape[-2:]), padding)
        pred = self.head(dense, ctx.text, ctx.vocabulary)
        ctx.dense = dense
        for step in self.steps:
            if step.stage == 'window':
                pred = step(pred, ctx)
        ctx.dense = None
        return pred, dense, tuple(padded.shape[-2:]), padding

    def _window_scores(self, windows: Tensor, ctx: StepContext,
                       upsample: bool = True) -> WindowScores:
        pred, dense, padded_size, padding = self._window_grid(windows, ctx)
        scores = pred.scores
        if upsample:
            scores = upsample_window_scores(scores, tuple(windows.shape[-2:]), padded_size,
                                            padding, self.patch_remainder == 'pad_stretch')
        return WindowScores(scores, pred.space, dense)

    def _collect(self, image: Tensor, ctx: StepContext,
                 lazy: bool = False) -> tuple[WindowStore, DenseOutput]:
        """Runs every window (or the whole image) of one (1, 3, H, W) image, keeping the
        patch-grid scores (lazily where the head can and no window step runs); returns them
        and the last pass."""
        lazy = lazy and not any(step.stage == 'window' for step in self.steps)
        height, width = image.shape[-2:]
        store = WindowStore(height, width, stretch=self.patch_remainder == 'pad_stretch')
        if self.mode == 'whole':
            heads = (self.encoder.visual.transformer.resblocks[-1].attn.num_heads
                     if self.encoder.arch == 'vit' else None)
            check_whole_image_tokens(height, width, self.encoder.patch_size,
                                     self.patch_remainder, self.settings.max_tokens, heads)
            batches = [[(0, height, 0, width)]]
        else:
            boxes = window_grid(height, width, self.crop_size, self.stride)
            step = self.windows_per_batch
            batches = [boxes[i:i + step] for i in range(0, len(boxes), step)]
        dense = None
        for boxes in batches:
            windows = torch.cat([image[..., y1:y2, x1:x2] for y1, y2, x1, x2 in boxes])
            pred, dense, padded_size, padding = self._window_grid(windows, ctx, lazy)
            store.add(boxes, pred.scores, pred.space, padded_size, padding)
        return store, dense

    def _scores(self, image: Tensor, ctx: StepContext,
                lazy: bool = False) -> tuple[WindowStore | ComputedScores, DenseOutput]:
        """The image's scores, to be rendered a range of names at a time: the windows' own, or
        those of a subclass that computes them itself (it overrides :meth:`image_scores`)."""
        if type(self).image_scores is OpenVocabSegmentor.image_scores:
            return self._collect(image, ctx, lazy)
        result = self.image_scores(image, ctx)
        return ComputedScores(result.scores, result.space), result.dense

    def image_scores(self, image: Tensor, ctx: StepContext) -> WindowScores:
        """Scores (1, S, H, W) of one normalised image (1, 3, H, W), whole or by windows.

        ``dense`` is the image's pass in 'whole' mode and that of the last batch of windows in
        'slide' mode.
        """
        store, dense = self._collect(image, ctx)
        return WindowScores(store.render(), store.space, dense)

    # ----------------------------------------------------------------- mmseg interface
    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list | None = None) -> list:
        """Predicts label maps at each image's original size.

        ``data_samples[i].metainfo`` may hold ``vocabulary`` (anything :func:`build_vocabulary`
        takes) to segment that image with its own classes. ``seg_logits`` holds the class
        probabilities (C, H, W), or (1, H, W) with ``test_cfg.probs='top'`` (see the class).
        """
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

    def _to_output(self, scores: Tensor, space: str, image: Tensor, meta: dict,
                   ctx: StepContext) -> Prediction:
        """Scores at the network input (1, K, H', W') -> cropped, flipped back, resized to the
        original size, image steps applied. ``image`` is already flipped back."""
        img_shape = tuple(meta.get('img_shape', image.shape[-2:]))[:2]
        ori_shape = tuple(meta.get('ori_shape', image.shape[-2:]))[:2]
        scores = scores[..., :img_shape[0], :img_shape[1]]
        if meta.get('flip', False):
            scores = scores.flip((3,) if meta.get('flip_direction') == 'horizontal' else (2,))
        if tuple(scores.shape[-2:]) != ori_shape:  # the same size is a copy: skip it
            scores = F.interpolate(scores, size=ori_shape, mode='bilinear', align_corners=False)
        pred = Prediction(scores=scores, space=space)
        for step in self.steps:
            if step.stage == 'image':
                pred = step(pred, ctx)
        return pred

    def _predict_one(self, image: Tensor, meta: dict) -> tuple[Tensor, Tensor]:
        vocabulary = self.vocabulary_of(meta)
        ctx = self._context(vocabulary)
        ori_shape = tuple(meta.get('ori_shape', image.shape[-2:]))[:2]
        img_shape = tuple(meta.get('img_shape', image.shape[-2:]))[:2]
        class_index = vocabulary.synonym_index(image.device)
        pixels = max(image.shape[-2] * image.shape[-1], ori_shape[0] * ori_shape[1])
        mode = choose_probs_mode(self.settings.probs, len(class_index), pixels,
                                 self.settings.max_probs_mb, f'{ori_shape[1]}x{ori_shape[0]}')
        if mode == 'top':  # before encoding: steps that need every class's scores at once
            refused = [type(s).__name__ for s in self.steps if s.stage != 'window'
                       and not s.bounded_ok]
            if refused:
                raise ValueError(f"test_cfg.probs='top' cannot run {refused}: they need every "
                                 "class's scores at once; use test_cfg.probs='full' or resize")
        store, dense = self._scores(image[None], ctx, lazy=mode == 'top')
        if meta.get('flip', False):
            image = image.flip(1 if meta.get('flip_direction') == 'horizontal' else 0)
        if any(s.stage == 'image' for s in self.steps):
            ctx.image = F.interpolate(image[None, :, :img_shape[0], :img_shape[1]].float(),
                                      size=ori_shape, mode='bilinear', align_corners=False)
        if mode == 'full':
            rendered = store.render()
            pred = self._to_output(rendered, store.space, image, meta, ctx)
            # a window store's render is a new map, read only here: the softmax may overwrite it
            reuse = isinstance(store, WindowStore) and _same_storage(pred.scores, rendered)
            name_probs = to_name_probs(pred.scores, pred.space, self.logit_scale, reuse)[0]
            pred.scores = None
            pred.probs, pred.labels = finalise_prediction(
                name_probs, class_index, vocabulary.num_classes, self.area_thresh,
                self.prob_thresh)
        else:
            pred = self._predict_top(store, image, meta, ctx, class_index, pixels)
        ctx.image = None
        ctx.dense = dense if self.mode == 'whole' else None
        if any(s.needs_rgb for s in self.steps if s.stage == 'labels'):
            ctx.rgb = self._rgb_image(image[:, :img_shape[0], :img_shape[1]], ori_shape)
        for step in self.steps:
            if step.stage == 'labels':
                pred = step(pred, ctx)
        return pred.probs, pred.labels

    def _predict_top(self, store: WindowStore | ComputedScores, image: Tensor, meta: dict,
                     ctx: StepContext, class_index: Tensor, pixels: int) -> Prediction:
        """The decision streamed over chunks of whole classes (``test_cfg.probs='top'``)."""

        def chunk_scores(start: int, end: int) -> Prediction:
            return self._to_output(store.render(start, end), store.space, image, meta, ctx)

        chunks = class_chunks(class_index, max(_CHUNK_BYTES // (4 * pixels), 1))
        return stream_decision(chunk_scores, chunks, class_index, self.logit_scale,
                               ctx.vocabulary.num_classes, self.area_thresh, self.prob_thresh)

    def _rgb_image(self, image: Tensor, size: tuple[int, int]) -> Tensor:
        """The normalised (3, h, w) input as (H, W, 3) uint8 RGB at ``size`` (bilinear)."""
        mean = getattr(self.data_preprocessor, 'mean', None)
        std = getattr(self.data_preprocessor, 'std', None)
        pixels = image.float()
        if mean is not None and std is not None:
            pixels = pixels * std.reshape(-1, 1, 1).to(pixels) + mean.reshape(-1, 1, 1).to(pixels)
        if tuple(pixels.shape[-2:]) != tuple(size):
            pixels = F.interpolate(pixels[None], size=size, mode='bilinear',
                                   align_corners=False)[0]
        return pixels.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()

    def _forward(self, inputs: Tensor, data_samples: list | None = None) -> Tensor:
        """Raw scores (B, S, H, W) in the head's space (mmseg's tensor mode)."""
        metas = [s.metainfo for s in data_samples] if data_samples else [{}] * len(inputs)
        return torch.cat([self.image_scores(image[None],
                                            self._context(self.vocabulary_of(meta))).scores
                          for image, meta in zip(inputs, metas)])

    def extract_feat(self, inputs: Tensor) -> Tensor:
        return self.encoder(inputs).dense

    def encode_decode(self, inputs: Tensor, batch_img_metas: list[dict]) -> Tensor:
        return torch.cat([self.image_scores(image[None],
                                            self._context(self.vocabulary_of(meta))).scores
                          for image, meta in zip(inputs, batch_img_metas)])

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """The head's training losses; only trainable heads (CLIP-DINOiser) have any."""
        if not self.head.trainable:
            raise NotImplementedError(
                f'{type(self.head).__name__} is training-free: use tools/test.py, not '
                'tools/train.py')
        with torch.no_grad():
            dtype = next(self.clip_model.parameters()).dtype
            dense = self.encoder(inputs.to(dtype), request=self.head.request)
        return self.head.loss(dense, inputs, data_samples)

    def train(self, mode: bool = True) -> OpenVocabSegmentor:
        """Keeps CLIP (and any step's model) in eval mode; only the head trains."""
        super().train(mode)
        self.clip_model.eval()
        self.encoder.eval()
        self.steps.eval()
        self.head.train(mode)
        return self


def _same_storage(a: Tensor, b: Tensor) -> bool:
    """True if ``a`` is ``b`` or a view of it (e.g. cropped to the image's own size)."""
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
