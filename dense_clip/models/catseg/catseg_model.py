"""CAT-Seg as a plain module: one CLIP pass, guidance, and the cost aggregator.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024.
Details from the authors' meta-architecture (KU-CVLAB/CAT-Seg ``cat_seg/cat_seg_model.py``,
``CATSeg.forward`` / ``inference_sliding_window``):

* every input is resized (bilinear) to the CLIP resolution (384 for ViT-B/16, 336 for
  ViT-L/14@336) and encoded once; the positional embeddings are resized bicubically to the grid
  (``size=`` interpolation, the 'size' mode of ``resize_pos_embed``);
* the dense features are the last block's dense tokens (``CATSegDense``) after ln_post and proj;
* the patch tokens leaving two intermediate blocks (forward hooks on blocks 3 and 7 for ViT-B,
  7 and 15 for ViT-L; here ``DenseRequest(blocks=...)`` of the same pass) go through transposed
  convs of kernel = stride = 2 and 4 (tower width -> 256 and 128 channels) to guide the two
  decoder stages.

This module holds no vocabulary: text embeddings come in, logits go out (see
``dense_clip.seg.catseg`` for the mmseg segmentor around it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from dense_clip.models.clip import CLIPDenseEncoder, DenseRequest

from .aggregator import CATSegAggregator

__all__ = ['CATSegModel']


class CATSegModel(nn.Module):
    """CLIP towers, guidance upsamplers and the cost aggregator.

    Args:
        clip_model: an open_clip CLIP with a ViT image tower (weights shared, not copied).
        aggregator: the cost aggregator.
        guidance_layers: image blocks whose outputs guide the decoder stages, one per stage
            (0-based; the authors: (3, 7) for ViT-B, (7, 15) for ViT-L).
        guidance_dims: output channels of the transposed convs of each stage (the authors':
            (256, 128)); stage i upsamples by 2^(i+1).
        clip_resolution: (H, W) every input is resized to before the CLIP.
        last_block: the dense last-block strategy (default: the authors' ``CATSegDense``).
    """

    def __init__(self, clip_model: nn.Module, aggregator: CATSegAggregator,
                 guidance_layers: Sequence[int] = (3, 7),
                 guidance_dims: Sequence[int] = (256, 128),
                 clip_resolution: Sequence[int] = (384, 384),
                 last_block: str | dict = 'CATSegDense') -> None:
        super().__init__()
        if len(guidance_layers) != len(guidance_dims):
            raise ValueError(f'one guidance layer per guidance dim, got {list(guidance_layers)} '
                             f'and {list(guidance_dims)}')
        self.clip_model = clip_model
        # The encoder re-runs clip_model.visual; it is kept out of the module tree so that the
        # shared tower's weights appear once in the state dict (under clip_model.).
        object.__setattr__(self, 'encoder', CLIPDenseEncoder(
            clip_model, last_block=last_block, pos_embed_interp='size', vanilla_cls=False))
        if self.encoder.arch != 'vit':
            raise ValueError('CAT-Seg needs a ViT image tower')
        width = self.encoder.visual.conv1.out_channels
        self.guidance_layers = tuple(int(i) for i in guidance_layers)
        self.clip_resolution = tuple(int(s) for s in clip_resolution)
        self.guidance_upsample = nn.ModuleList([
            nn.ConvTranspose2d(width, dim, kernel_size=2 ** (i + 1), stride=2 ** (i + 1))
            for i, dim in enumerate(guidance_dims)
        ])
        self.aggregator = aggregator

    @property
    def feature_grid(self) -> tuple[int, int]:
        """(h, w) grid of the dense features at the CLIP resolution."""
        ph, pw = self.encoder.patch_size
        return (self.clip_resolution[0] // ph, self.clip_resolution[1] // pw)

    def forward(self, images: Tensor, text_feats: Tensor,
                pooling_size: Sequence[int] | None = None) -> Tensor:
        """Per-class logits of a batch of images.

        Args:
            images: (B, 3, H, W) CLIP-normalised images, any size (resized to the CLIP
                resolution, bilinear).
            text_feats: (K, P, D) or (B, K, P, D) class embeddings, L2-normalised per template.
            pooling_size: class-aggregation pooling for this call (None: the layers' own).

        Returns:
            (B, K, 4h, 4w) float logits on the CLIP-resolution frame (h, w = feature grid), for
            the default two decoder stages.
        """
        if tuple(images.shape[-2:]) != self.clip_resolution:
            images = F.interpolate(images, size=self.clip_resolution, mode='bilinear',
                                   align_corners=False)
        dtype = self.encoder.visual.conv1.weight.dtype
        out = self.encoder(images.to(dtype), DenseRequest(blocks=self.guidance_layers))
        b, _, h, w = out.dense.shape
        guidance = []
        for layer, upsample in zip(self.guidance_layers, self.guidance_upsample):
            tokens = out.blocks[layer][:, 1:].float()  # (B, h*w, width), CLS dropped
            guidance.append(upsample(tokens.transpose(1, 2).reshape(b, -1, h, w)))
        return self.aggregator(out.dense.float(), text_feats, guidance, pooling_size)
