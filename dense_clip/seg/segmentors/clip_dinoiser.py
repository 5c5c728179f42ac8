"""CLIP-DINOiser: MaskCLIP features refined by learned DINO-like patch correlations.

Wysoczańska, Siméoni, Ramamonjisoa, Bursuc, Trzciński, Pérez, "CLIP-DINOiser: Teaching CLIP a few
DINO tricks for open-vocabulary semantic segmentation", ECCV 2024 (ANCHORS.md section 2). Details
from wysoczanska/clip_dinoiser (``models/clip_dinoiser/clip_dinoiser.py``, ``train.py``,
``configs/clip_dinoiser.yaml``):

* dense features: MaskCLIP (identity attention, residual and FFN kept) after ln_post and proj,
  not normalised;
* head input: the output of ``ln_2`` inside block ``feats_idx = -3`` (a forward hook on that
  LayerNorm: LN2 of x + attn(LN1 x), the FFN's input, not the block's output), CLS dropped;
* refinement: C = P̂ᵀP̂ of the correlation head, C < 0.2 -> 0, f'_i = Σ_j C_ij f_j / (Σ_j C_ij +
  1e-6), then cosine to the text embeddings;
* background (VOC / COCO-Object only, ``apply_found``): on the feature grid, cells whose top
  class probability (softmax over classes at the logit scale; the authors' ``cls_seg`` uses 100)
  is below 0.99 and whose foreground sigmoid is <= 0.5 go to the background class;
* training: BCE-with-logits between the correlations clamped at 0 (used directly as logits, as
  the authors do: ``pred_corrs[pred_corrs < 0] = 0``) and the binarised teacher correlations, plus
  BCE between the background head's logit and the teacher's foreground map; only the two heads
  learn (AdamW, lr 5e-5 / 1e-2).
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from dense_clip.models.dinoiser import (
    BackgroundHead,
    CorrelationHead,
    background_override,
    build_teacher,
    heads_state_dict,
    pooled_refinement,
)
from dense_clip.models.proxy.base import read_weights
from dense_clip.models.text import Vocabulary
from dense_clip.registry import SEG_MODELS

from .open_vocab_segmentor import OpenVocabSegmentor

__all__ = ['CLIPDINOiserSegmentor']


@SEG_MODELS.register_module()
class CLIPDINOiserSegmentor(OpenVocabSegmentor):
    """OpenVocabSegmentor with CLIP-DINOiser's correlation and background heads.

    Args:
        feats_block: block whose LN2 output feeds the heads (-3 in the paper).
        corr_dim: correlation projection width (256).
        corr_kernel: correlation conv size (3).
        corr_threshold: correlations below it are zeroed before pooling (0.2, "gamma").
        refine: apply the correlation pooling (False gives plain MaskCLIP, for ablations).
        apply_background: use the background head at inference (VOC21 / COCO-Object).
        delta: certainty threshold of the background override (0.99).
        background_scale: logit scale of the certainty softmax (100, the authors' ``cls_seg``).
        teacher: training targets, ``dict(type='oracle')`` or ``dict(type='proxy', proxy=...)``
            (see ``dense_clip.models.dinoiser.teachers``); None for inference-only models.
        heads_checkpoint: head weights (authors' layout or ours), loaded in ``init_weights``.
        loss_weights: (correlation, background) loss weights.
        **kwargs: ``OpenVocabSegmentor`` arguments (clip, vocabulary, protocol settings);
            ``last_block`` defaults to 'maskclip'.
    """

    def __init__(self, *args, feats_block: int = -3, corr_dim: int = 256, corr_kernel: int = 3,
                 corr_threshold: float = 0.2, refine: bool = True,
                 apply_background: bool = False, delta: float = 0.99,
                 background_scale: float = 100.0, teacher: dict | None = None,
                 heads_checkpoint: str | None = None,
                 loss_weights: tuple[float, float] = (1.0, 1.0), **kwargs) -> None:
        kwargs.setdefault('last_block', 'maskclip')
        super().__init__(*args, **kwargs)
        if self.encoder.arch != 'vit':
            raise ValueError('CLIP-DINOiser needs a CLIP ViT')
        resblocks = self.encoder.visual.transformer.resblocks
        if not -len(resblocks) <= feats_block < len(resblocks):
            # Shallow test towers (2 blocks) still build; real towers never get here.
            clamped = max(min(feats_block, len(resblocks) - 1), -len(resblocks))
            print_log(f'feats_block {feats_block} out of range for {len(resblocks)} blocks; '
                      f'using {clamped}', logger='current', level=logging.WARNING)
            feats_block = clamped
        width = resblocks[0].ln_2.normalized_shape[0]
        self.feats_block = feats_block
        self.corr_threshold = corr_threshold
        self.refine = refine
        self.apply_background = apply_background
        self.delta = delta
        self.background_scale = background_scale
        self.heads_checkpoint = heads_checkpoint
        self.loss_weights = tuple(loss_weights)
        self.corr_head = CorrelationHead(width, corr_dim, corr_kernel)
        self.bkg_head = BackgroundHead(width)
        self.teacher = build_teacher(teacher)
        if self.teacher is not None:
            self.teacher.requires_grad_(False)

    # ----------------------------------------------------------------- weights
    def init_weights(self) -> None:
        """Loads CLIP (see the parent), the teacher's proxy and ``heads_checkpoint``."""
        super().init_weights()
        if self.teacher is not None and hasattr(self.teacher, 'proxy'):
            self.teacher.proxy.init_weights()
        if self.heads_checkpoint:
            self.load_heads(read_weights(self.heads_checkpoint))

    def load_heads(self, checkpoint: dict) -> None:
        """Loads head weights from a checkpoint dict in the authors' layout or ours."""
        missing, unexpected = self.load_state_dict(heads_state_dict(checkpoint), strict=False)
        if unexpected:
            raise KeyError(f'unexpected head keys {unexpected}')

    def train(self, mode: bool = True) -> CLIPDINOiserSegmentor:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    # ----------------------------------------------------------------- features
    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """MaskCLIP dense features and the heads' input from one encoder pass.

        Args:
            images: (B, 3, H, W) CLIP-normalised.

        Returns:
            dense (B, D, h, w) un-normalised joint-space features and (B, C, h, w) LN2 output
            of block ``feats_block`` (CLS dropped), both float32.
        """
        block = self.encoder.visual.transformer.resblocks[self.feats_block]
        captured: dict[str, Tensor] = {}

        def hook(module, args, output):
            captured.setdefault('ln2', output)  # first call: the block's own FFN input

        handle = block.ln_2.register_forward_hook(hook)
        try:
            dtype = next(self.clip_model.parameters()).dtype
            out = self.encoder(images.to(dtype))
        finally:
            handle.remove()
        tokens = captured['ln2']
        if not getattr(self.encoder.visual.transformer, 'batch_first', True):
            tokens = tokens.transpose(0, 1)
        h, w = out.grid
        inter = tokens[:, 1:].float().transpose(1, 2).reshape(tokens.shape[0], -1, h, w)
        return out.dense.float(), inter

    def _vocabulary_of(self, text: Tensor) -> Vocabulary:
        for vocabulary, embeddings in self._text_embeddings.items():
            if embeddings is text:
                return vocabulary
        return self.vocabulary

    def window_logits(self, windows: Tensor, text: Tensor) -> Tensor:
        """Refined cosine logits ``(N, S, h, w)`` at window resolution (see module docstring)."""
        dense, inter = self.encode(windows)
        if self.refine:
            corr = self.corr_head.correlations(inter)
            dense = pooled_refinement(dense, corr, self.corr_threshold)
        logits = torch.einsum('ndhw,sd->nshw', F.normalize(dense, dim=1), text)
        if self.apply_background:
            vocabulary = self._vocabulary_of(text)
            background = vocabulary.background_index
            if background is not None:
                logits = background_override(
                    logits, self.bkg_head(inter), vocabulary.synonym_index(logits.device),
                    background, self.background_scale, self.delta)
        return F.interpolate(logits, size=windows.shape[-2:], mode='bilinear',
                             align_corners=False)

    # ----------------------------------------------------------------- training
    def loss(self, inputs: Tensor, data_samples: list) -> dict[str, Tensor]:
        """BCE losses of the two heads against the teacher's targets.

        Returns:
            dict with ``loss_corr`` and, when the teacher gives a foreground map, ``loss_bkg``.
        """
        if self.teacher is None:
            raise ValueError('training CLIP-DINOiser needs a teacher (model.teacher=...)')
        with torch.no_grad():
            _, inter = self.encode(inputs)
            targets = self.teacher(inputs, data_samples, tuple(inter.shape[-2:]))
        valid = targets['valid'].float()  # (B, N)
        pair_weight = valid[:, :, None] * valid[:, None, :]
        corr_logits = self.corr_head.correlations(inter).clamp(min=0)
        loss_corr = F.binary_cross_entropy_with_logits(
            corr_logits, targets['corr'], weight=pair_weight, reduction='sum')
        losses = {'loss_corr': self.loss_weights[0] * loss_corr / pair_weight.sum().clamp(min=1)}
        if 'fg' in targets:
            fg_logits = self.bkg_head(inter)
            weight = valid.reshape(fg_logits.shape)
            loss_bkg = F.binary_cross_entropy_with_logits(
                fg_logits, targets['fg'], weight=weight, reduction='sum')
            losses['loss_bkg'] = self.loss_weights[1] * loss_bkg / weight.sum().clamp(min=1)
        return losses
