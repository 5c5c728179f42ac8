"""Training-free open-vocabulary semantic segmentation with a CLIP image and text tower.

One segmentor serves MaskCLIP, SCLIP, ClearCLIP, NACLIP and CLIPtrase: they differ only in the
last-block strategy of the dense encoder (``dense_clip.models.clip``) and in protocol settings
(window size, logit scale, thresholds, PAMR) that the configs set. The inference protocol follows
the authors' public code (SCLIP, ClearCLIP, NACLIP): per-window cosine logits upsampled to the
window, averaged over mmseg's sliding-window grid, resized to the original image, optionally
refined by PAMR, scaled, soft-maxed over all class names, max over synonyms, then area and
probability thresholds for the background class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor

from dense_clip.models.clip import CLIPDenseEncoder
from dense_clip.models.clip.ops import merge_heads, project_qkv
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.postprocess import PAMR
from dense_clip.models.text import (
    TextEmbeddingCache,
    Vocabulary,
    build_text_classifier,
    get_templates,
)
from dense_clip.models.text.vocabulary import available_classnames
from dense_clip.registry import SEG_MODELS

from ..cliptrase_vote import cluster_vote
from ..inference import finalise_prediction, pad_to_multiple, slide_logits
from ..maskclip_refine import key_smoothing, prompt_denoising

__all__ = ['OpenVocabSegmentor']

# CLIP's pixel statistics in 0-255 space (OpenAI's preprocessing).
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]


def vocabulary_from_config(source: str | dict | list | Vocabulary) -> Vocabulary:
    """Builds a :class:`Vocabulary` from a shipped list name, a file, a list or a dict.

    A dict holds ``classnames`` (any of the other forms) and optional ``background``.
    """
    if isinstance(source, Vocabulary):
        return source
    background = None
    if isinstance(source, dict):
        source, background = source['classnames'], source.get('background')
    if isinstance(source, str):
        if source not in available_classnames() and not source.endswith('.txt'):
            raise ValueError(f'vocabulary {source!r} is neither a shipped class list '
                             f'({", ".join(available_classnames())}) nor a .txt file')
        return Vocabulary.load(source, background)
    return Vocabulary(list(source), background)


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


@SEG_MODELS.register_module()
class OpenVocabSegmentor(BaseSegmentor):
    """Segments any list of class names with a frozen CLIP, no training.

    Args:
        clip: where the CLIP comes from, see :class:`CLIPSource` (``model_name``,
            ``pretrained``, ``model_cfg``, ``precision``).
        last_block: the last image block's strategy: a name ('vanilla', 'maskclip', 'sclip',
            'clearclip', 'naclip', 'cliptrase') or a config dict with ``type``.
        vocabulary: class-name file path or benchmark name ('voc21', 'ade150', ...), or a dict
            with ``classnames`` and optional ``background``.
        templates: template set name ('openai_imagenet', 'maskclip', 'single') or a list.
        pos_embed_interp: 'size' (bicubic to the grid) or 'authors' (the DINO-style
            ``scale_factor=(g + 0.1) / g0`` interpolation of the reference repos).
        logit_scale: multiplies cosine logits before the softmax over class names.
        prob_thresh: pixels whose top class probability is below it become class 0.
        area_thresh: classes covering at most this fraction of the predicted foreground
            become background (SCLIP's ``area_thd``); None disables it.
        mode: 'slide' or 'whole'.
        crop_size: window size for 'slide'.
        stride: window step for 'slide'.
        windows_per_batch: windows encoded together in one forward pass.
        patch_remainder: sizes that are not a multiple of the patch: 'pad' (ClearCLIP: zero-pad
            the normalised window evenly, crop the logits back) or 'drop' (NACLIP: the patch
            conv drops the remainder; logits are upsampled to the full window).
        pamr: PAMR settings (``num_iter``, ``dilations``) or None.
        prompt_denoise: MaskCLIP's prompt denoising threshold (paper: 0.5) or None; applied
            per window at patch level.
        key_smoothing: MaskCLIP's key-smoothing vote threshold (1.0 smooths every patch) or
            None. The window output is then ``log(p) / logit_scale`` of the smoothed
            probabilities p, so the final softmax at ``logit_scale`` returns p; overlapping
            windows average these log-probabilities (MaskCLIP averages the probabilities).
        cluster_vote: CLIPtrase's cluster vote (``eps``, ``min_samples``; see
            ``dense_clip.seg.cliptrase_vote``) or None. Needs ``mode='whole'`` and a last
            block that returns a self-correlation (``cliptrase``).
        cls_reweight: multiply each class name's patch cosines by the image embedding's cosine
            to it (CLIPtrase's VOC20 protocol, where both are scaled by 100 and multiplied; the
            arg-max is the same).
        text_cache_dir: folder of the on-disk class-embedding cache; None uses the default
            (``~/.cache/dense_clip/text_embeddings``), False disables it.
        data_preprocessor: mmseg data preprocessor; defaults to CLIP's normalisation.
        init_cfg: unused (CLIP weights come from ``clip``).
    """

    def __init__(
        self,
        clip: dict,
        vocabulary: str | dict,
        last_block: str | dict = 'vanilla',
        templates: str | list[str] = 'openai_imagenet',
        pos_embed_interp: str = 'size',
        logit_scale: float = 40.0,
        prob_thresh: float = 0.0,
        area_thresh: float | None = None,
        mode: str = 'slide',
        crop_size: int | tuple[int, int] = 224,
        stride: int | tuple[int, int] = 112,
        windows_per_batch: int = 4,
        patch_remainder: str = 'drop',
        pamr: dict | None = None,
        prompt_denoise: float | None = None,
        key_smoothing: float | None = None,
        cluster_vote: dict | None = None,
        cls_reweight: bool = False,
        text_cache_dir: str | None | bool = None,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SegDataPreProcessor', mean=CLIP_MEAN, std=CLIP_STD,
                                     bgr_to_rgb=True)
        if isinstance(data_preprocessor, dict):  # mmseg's, whatever the default scope
            data_preprocessor = SEG_MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if mode not in ('slide', 'whole'):
            raise ValueError(f"mode must be 'slide' or 'whole', got {mode!r}")
        if patch_remainder not in ('pad', 'drop'):
            raise ValueError(f"patch_remainder must be 'pad' or 'drop', got {patch_remainder!r}")
        self.source = CLIPSource(**clip)
        model, self.tokenizer = self.source.build()
        # The image embedding (cls) is unused here: pool it from the strategy's tokens (cheap)
        # rather than running CLIP's own last block a second time.
        self.encoder = CLIPDenseEncoder(model, last_block=last_block,
                                        pos_embed_interp=pos_embed_interp, vanilla_cls=False)
        self.clip_model = model
        self.vocabulary = vocabulary_from_config(vocabulary)
        self.templates = get_templates(templates)
        self.logit_scale = logit_scale
        self.prob_thresh = prob_thresh
        self.area_thresh = area_thresh
        self.mode = mode
        self.crop_size, self.stride = _pair(crop_size), _pair(stride)
        self.windows_per_batch = windows_per_batch
        self.patch_remainder = patch_remainder
        self.pamr = PAMR(**pamr) if pamr else None
        self.prompt_denoise = prompt_denoise
        if key_smoothing is not None and self.encoder.arch != 'vit':
            raise ValueError('key_smoothing reads the last transformer block\'s keys: it needs a '
                             f'ViT CLIP, got a {self.encoder.arch} image tower')
        self.key_smoothing = key_smoothing
        if cluster_vote is not None and (
                mode != 'whole' or not getattr(self.encoder.last_block, 'extra_inputs', ())):
            raise ValueError("cluster_vote needs mode='whole' and a last block with a "
                             "self-correlation (last_block='cliptrase')")
        self.cluster_vote = dict(cluster_vote) if cluster_vote is not None else None
        self.cls_reweight = cls_reweight
        self.text_cache = None if text_cache_dir is False else TextEmbeddingCache(text_cache_dir)
        self._text_embeddings: dict[Vocabulary, torch.Tensor] = {}
        self.requires_grad_(False)

    # ----------------------------------------------------------------- weights and text
    def init_weights(self) -> None:
        """Loads the pretrained CLIP weights named by ``clip`` (nothing else is learned)."""
        self.source.load_weights(self.clip_model)
        self._text_embeddings.clear()

    def text_embeddings(self, vocabulary: Vocabulary) -> torch.Tensor:
        """Class-name embeddings ``(S, D)``, L2-normalised, computed once per vocabulary."""
        if vocabulary not in self._text_embeddings:
            if self.text_cache is None:
                embeddings = build_text_classifier(self.clip_model, self.tokenizer, vocabulary,
                                                   self.templates)
            else:
                embeddings = self.text_cache.get_or_build(
                    self.clip_model, self.tokenizer, vocabulary, self.templates,
                    model_id=self.source.describe(), weights_id=self.source.identity())
            self._text_embeddings[vocabulary] = embeddings.float()
        return self._text_embeddings[vocabulary]

    # ----------------------------------------------------------------- dense logits
    def window_logits(self, windows: torch.Tensor, text: torch.Tensor,
                      return_output: bool = False):
        """Cosine logits ``(N, S, h, w)`` at window resolution for ``(N, 3, h, w)`` windows.

        With ``return_output`` also the encoder's ``DenseOutput`` (grid, extras).
        """
        height, width = windows.shape[-2:]
        padding = (0, 0, 0, 0)
        if self.patch_remainder == 'pad':
            windows, padding = pad_to_multiple(windows, self.encoder.patch_size)
        dtype = next(self.clip_model.parameters()).dtype
        blocks = (-2,) if self.key_smoothing is not None else ()
        out = self.encoder(windows.to(dtype), return_blocks=blocks)
        dense = F.normalize(out.dense.float(), dim=1)
        logits = torch.einsum('ndhw,sd->nshw', dense, text)
        if self.cls_reweight:
            image_cos = F.normalize(out.cls.float(), dim=-1) @ text.t()  # (N, S)
            logits = logits * image_cos[:, :, None, None]
        if self.prompt_denoise is not None:
            logits = prompt_denoising(logits, self.prompt_denoise)
        if self.key_smoothing is not None:
            last = self.clip_model.visual.transformer.resblocks[-1]
            keys = merge_heads(project_qkv(last, out.blocks[-2])[1])[:, 1:]
            probs = key_smoothing(logits, keys.float(), self.key_smoothing)
            logits = probs.clamp_min(1e-12).log() / self.logit_scale
        logits = F.interpolate(logits, size=windows.shape[-2:], mode='bilinear',
                               align_corners=False)
        left, _, top, _ = padding
        logits = logits[..., top:top + height, left:left + width]
        return (logits, out) if return_output else logits

    def image_logits(self, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Cosine logits ``(1, S, H, W)`` for one normalised image ``(1, 3, H, W)``."""
        if self.mode == 'whole':
            return self.window_logits(image, text)
        return slide_logits(image, lambda w: self.window_logits(w, text), text.shape[0],
                            self.crop_size, self.stride, self.windows_per_batch)

    # ----------------------------------------------------------------- mmseg interface
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: list | None = None) -> list:
        """Predicts label maps at each image's original size.

        ``data_samples[i].metainfo`` may hold ``vocabulary`` (a list of class names, or a
        :class:`Vocabulary`) to segment that image with its own classes.
        """
        from mmseg.structures import SegDataSample

        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(ori_shape=inputs.shape[2:],
                                                         img_shape=inputs.shape[2:]))
                            for _ in range(inputs.shape[0])]
        for image, sample in zip(inputs, data_samples):
            vocabulary = vocabulary_from_config(sample.metainfo.get('vocabulary', self.vocabulary))
            text = self.text_embeddings(vocabulary)
            if self.cluster_vote is not None:
                logits, out = self.window_logits(image[None], text, return_output=True)
            else:
                logits = self.image_logits(image[None], text)
            ori_shape = tuple(sample.metainfo.get('ori_shape', image.shape[-2:]))[:2]
            img_shape = tuple(sample.metainfo.get('img_shape', image.shape[-2:]))[:2]
            logits = logits[..., :img_shape[0], :img_shape[1]]
            if sample.metainfo.get('flip', False):
                dims = (3,) if sample.metainfo.get('flip_direction') == 'horizontal' else (2,)
                logits, image = logits.flip(dims), image.flip(dims[0] - 1)
            logits = F.interpolate(logits, size=ori_shape, mode='bilinear', align_corners=False)
            if self.pamr is not None:
                guide = F.interpolate(image[None, :, :img_shape[0], :img_shape[1]].float(),
                                      size=ori_shape, mode='bilinear', align_corners=False)
                logits = self.pamr(guide, logits)
            probs, labels = finalise_prediction(
                logits[0], vocabulary.synonym_index(logits.device), vocabulary.num_classes,
                self.logit_scale, self.area_thresh, self.prob_thresh)
            if self.cluster_vote is not None:
                labels = cluster_vote(labels[0], out.extras['self_correlation'][0].float(),
                                      out.grid, **self.cluster_vote)[None]
            sample.set_data({'seg_logits': PixelData(data=probs),
                             'pred_sem_seg': PixelData(data=labels)})
        return data_samples

    def _forward(self, inputs: torch.Tensor, data_samples: list | None = None) -> torch.Tensor:
        text = self.text_embeddings(self.vocabulary)
        return torch.cat([self.image_logits(image[None], text) for image in inputs])

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.encoder(inputs).dense

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: list[dict]) -> torch.Tensor:
        return self._forward(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        raise NotImplementedError(
            f'{type(self).__name__} is training-free: use tools/test.py, not tools/train.py')

    def train(self, mode: bool = True) -> OpenVocabSegmentor:
        """Keeps CLIP in eval mode: nothing here trains."""
        super().train(mode)
        self.clip_model.eval()
        return self

