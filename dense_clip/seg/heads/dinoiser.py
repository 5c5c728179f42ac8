"""CLIP-DINOiser's head: MaskCLIP features pooled over learned patch correlations, plus a
background head that hands unsure, non-salient patches to the background.

Wysoczańska, Siméoni, Ramamonjisoa, Bursuc, Trzciński, Pérez, "CLIP-DINOiser: Teaching CLIP a few
DINO tricks for open-vocabulary semantic segmentation", ECCV 2024. Details from the authors' code
(wysoczanska/clip_dinoiser ``models/clip_dinoiser/clip_dinoiser.py``, ``train.py``,
``configs/clip_dinoiser.yaml``):

* dense features: MaskCLIP (identity attention, residual and FFN kept) after ln_post and proj,
  not normalised (the segmentor's encoder uses ``last_block='maskclip'``);
* head input: the output of ``ln_2`` inside block ``feats_idx = -3`` (the FFN input:
  LN2(x + attn(LN1 x)), not the block's output), CLS dropped: ``DenseRequest(ffn_inputs=...)``;
* refinement: C = P̂ᵀP̂ of the correlation head, C < 0.2 -> 0, f'_i = Σ_j C_ij f_j / (Σ_j C_ij +
  1e-6), then cosine to the text embeddings;
* scores: ``softmax(100 * cosine)`` over the class names on the patch grid (the MaskCLIP head's
  ``cls_seg``), so the head returns probabilities ('prob' space): the segmentor upsamples and
  averages probabilities over windows, never cosines (``DinoCLIP_Infrencer.encode_decode``
  resizes the model's probability map to the window; mmseg 0.x averages the windows);
* background (VOC / COCO-Object only, ``apply_found``): cells whose top class probability is
  below ``delta`` (0.99) and whose foreground sigmoid is <= 0.5 get background probability 1.0,
  the other classes keep theirs;
* input sizes: the authors zero-pad the [0, 1] RGB window at the right and bottom to a multiple
  of the patch (``make_input_divisible``) and resize the padded grid's map over the unpadded
  window: the segmentor's ``test_cfg.patch_remainder='pad_stretch'``;
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

from dense_clip.models.clip import CLIPDenseEncoder, DenseOutput, DenseRequest
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
from dense_clip.registry import SEG_HEADS
from dense_clip.utils.checkpoint import CheckpointError

from ..steps.base import Prediction
from .base import SegHead

__all__ = ['DINOiserHead']


@SEG_HEADS.register_module()
class DINOiserHead(SegHead):
    """CLIP-DINOiser's correlation and background heads (see the module docstring).

    Args:
        feats_block: block whose LN2 output feeds the heads (-3 in the paper). Shallow towers
            (tests, the embedded CLIP) clamp it into range with a warning.
        corr_dim: correlation projection width (256).
        corr_kernel: correlation conv size (3).
        corr_threshold: correlations below it are zeroed before pooling (0.2, "gamma").
        refine: apply the correlation pooling (False gives plain MaskCLIP, for ablations).
        apply_background: use the background head at inference (VOC21 / COCO-Object).
        delta: certainty threshold of the background override (0.99).
        softmax_scale: scale of the cosines in the softmax over names (100, the authors'
            ``cls_seg``); the head's output is probabilities, so the segmentor's
            ``logit_scale`` does not apply.
        teacher: training targets, ``dict(type='oracle')`` or ``dict(type='proxy', proxy=...)``
            (``dense_clip.models.dinoiser.teachers``); None for inference-only models.
        checkpoint: head weights (the authors' ``last.pt`` layout or ours), loaded in
            ``init_weights``.
        loss_weights: (correlation, background) loss weights.
    """

    trainable = True

    def __init__(self, feats_block: int = -3, corr_dim: int = 256, corr_kernel: int = 3,
                 corr_threshold: float = 0.2, refine: bool = True,
                 apply_background: bool = False, delta: float = 0.99,
                 softmax_scale: float = 100.0, teacher: dict | None = None,
                 checkpoint: str | None = None,
                 loss_weights: tuple[float, float] = (1.0, 1.0)) -> None:
        super().__init__()
        self.feats_block = feats_block
        self.corr_dim = corr_dim
        self.corr_kernel = corr_kernel
        self.corr_threshold = corr_threshold
        self.refine = refine
        self.apply_background = apply_background
        self.delta = delta
        self.softmax_scale = softmax_scale
        self.checkpoint = checkpoint
        self.loss_weights = tuple(loss_weights)
        self.teacher = build_teacher(teacher)
        if self.teacher is not None:
            self.teacher.requires_grad_(False)
        self.request = DenseRequest(ffn_inputs=(feats_block,))

    def setup(self, encoder: CLIPDenseEncoder) -> None:
        """Builds the two convolutions for the tower's width; checks ``feats_block``."""
        if encoder.arch != 'vit':
            raise ValueError('CLIP-DINOiser needs a CLIP ViT')
        resblocks = encoder.visual.transformer.resblocks
        depth = len(resblocks)
        if not -depth <= self.feats_block < depth:
            clamped = max(min(self.feats_block, depth - 1), -depth)
            print_log(f'feats_block {self.feats_block} out of range for {depth} blocks; '
                      f'using {clamped}', logger='current', level=logging.WARNING)
            self.feats_block = clamped
            self.request = DenseRequest(ffn_inputs=(clamped,))
        width = resblocks[0].ln_2.normalized_shape[0]
        self.corr_head = CorrelationHead(width, self.corr_dim, self.corr_kernel)
        self.bkg_head = BackgroundHead(width)

    def init_weights(self) -> None:
        """Loads the teacher's proxy and ``checkpoint``."""
        if self.teacher is not None and hasattr(self.teacher, 'proxy'):
            self.teacher.proxy.init_weights()
        if self.checkpoint:
            self.load_heads(read_weights(self.checkpoint), source=str(self.checkpoint))

    def load_heads(self, checkpoint: dict, source: str = 'the head checkpoint') -> None:
        """Loads head weights from a checkpoint dict in the authors' layout or ours.

        Raises:
            CheckpointError: the heads were made for another backbone width or head size (the
                message names ``source``, each head, and the widths on both sides).
        """
        heads = heads_state_dict(checkpoint)
        expected = self.state_dict()
        wrong = [f'{key} {tuple(heads[key].shape)} (here {tuple(expected[key].shape)})'
                 for key in heads if key in expected and heads[key].shape != expected[key].shape]
        if wrong:
            made = tuple(heads['corr_head.conv.weight'].shape)
            backbone = made[1] if len(made) == 4 else '?'
            raise CheckpointError(
                f'{source}: CLIP-DINOiser heads made for a {backbone}-wide CLIP backbone '
                f'(correlation head weight {made}), but this model\'s CLIP ViT is '
                f'{self.corr_head.conv.in_channels} wide with corr_dim {self.corr_dim} and '
                f'kernel {self.corr_kernel}: {"; ".join(wrong)}. Use heads trained for this '
                'backbone (ViT-B/16 is 768 wide)')
        missing, unexpected = self.load_state_dict(heads, strict=False)
        if unexpected:
            raise KeyError(f'unexpected head keys {unexpected}')

    def train(self, mode: bool = True) -> DINOiserHead:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def features(self, dense: DenseOutput) -> Tensor:
        """The heads' input (B, C, h, w) float32: the FFN input of ``feats_block``, CLS dropped."""
        tokens = dense.ffn_inputs[self.feats_block]
        h, w = dense.grid
        return tokens[:, 1:].float().transpose(1, 2).reshape(tokens.shape[0], -1, h, w)

    def forward(self, dense: DenseOutput, text: Tensor, vocabulary: Vocabulary) -> Prediction:
        inter = self.features(dense)
        feats = dense.dense.float()
        if self.refine:
            feats = pooled_refinement(feats, self.corr_head.correlations(inter),
                                      self.corr_threshold)
        logits = torch.einsum('ndhw,sd->nshw', F.normalize(feats, dim=1), text)
        probs = (logits * self.softmax_scale).softmax(dim=1)
        background = vocabulary.background_index
        if self.apply_background and background is not None:
            probs = background_override(probs, self.bkg_head(inter),
                                        vocabulary.synonym_index(probs.device), background,
                                        self.delta)
        return Prediction(scores=probs, space='prob')

    def loss(self, dense: DenseOutput, inputs: Tensor, data_samples: list) -> dict[str, Tensor]:
        """BCE losses of the two heads against the teacher's targets.

        Args:
            dense: the (frozen) pass over ``inputs``, with this head's request.
            inputs: (B, 3, H, W) CLIP-normalised images (the proxy teacher sees them).
            data_samples: mmseg samples (the oracle teacher reads ``gt_sem_seg``).

        Returns:
            dict with ``loss_corr`` and, when the teacher gives a foreground map, ``loss_bkg``.
        """
        if self.teacher is None:
            raise ValueError('training CLIP-DINOiser needs a teacher (model.head.teacher=...)')
        inter = self.features(dense)
        with torch.no_grad():
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
