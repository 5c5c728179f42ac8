"""CAT-Seg's upsampling decoder: per-class maps upsampled 2x twice, guided by earlier CLIP layers.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024,
section 3.3. Details from the authors' code (KU-CVLAB/CAT-Seg
``cat_seg/modeling/transformer/model.py``: ``Up``, ``DoubleConv``, ``Aggregator.conv_decoder``,
``decoder_guidance_projection``):

* each stage is a 2x2 stride-2 transposed conv from ``in`` to ``in - guidance`` channels, the
  projected guidance concatenated (the same map for every class), then two 3x3 convs without bias,
  each followed by GroupNorm with ``out // 16`` groups and ReLU;
* the guidance of each stage is a 3x3 conv + ReLU of an intermediate CLIP layer already upsampled
  to that stage's resolution (the transposed convs that do that belong to the segmentor);
* a final 3x3 conv gives one logit per class and pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ['GuidedUpBlock', 'UpsampleDecoder']


class GuidedUpBlock(nn.Module):
    """2x upsampling, guidance concatenation and a double 3x3 conv.

    Args:
        in_dim: input channels.
        out_dim: output channels (at least 16: GroupNorm uses ``out_dim // 16`` groups).
        guidance_dim: channels of the guidance concatenated after upsampling (< ``in_dim``).
    """

    def __init__(self, in_dim: int, out_dim: int, guidance_dim: int) -> None:
        super().__init__()
        if out_dim < 16:
            raise ValueError(f'decoder dims must be >= 16 (GroupNorm of dim // 16 groups), '
                             f'got {out_dim}')
        if not 0 <= guidance_dim < in_dim:
            raise ValueError(f'guidance_dim must be in [0, {in_dim}), got {guidance_dim}')
        self.up = nn.ConvTranspose2d(in_dim, in_dim - guidance_dim, kernel_size=2, stride=2)
        self.conv = nn.Sequential(
            nn.Conv2d(in_dim, out_dim, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(out_dim // 16, out_dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(out_dim // 16, out_dim),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor, guidance: Tensor | None) -> Tensor:
        """Upsamples.

        Args:
            x: (B*T, in, h, w) per-class features, batch-major (image b's classes together).
            guidance: (B, g, 2h, 2w) projected guidance, or None.

        Returns:
            (B*T, out, 2h, 2w).
        """
        x = self.up(x)
        if guidance is not None:
            repeats = x.shape[0] // guidance.shape[0]  # classes per image
            x = torch.cat([x, guidance.repeat_interleave(repeats, dim=0)], dim=1)
        return self.conv(x)


class UpsampleDecoder(nn.Module):
    """Guided upsampling stages and the one-logit head.

    Args:
        in_dim: channels of the aggregated cost embedding.
        dims: output channels of each stage (the authors': (64, 32)).
        guidance_dims: channels of each stage's raw guidance (after the segmentor's transposed
            convs; the authors': (256, 128)); 0 disables guidance for all stages.
        guidance_proj_dims: channels each guidance is projected to (the authors': (32, 16)).
    """

    def __init__(self, in_dim: int, dims: Sequence[int], guidance_dims: Sequence[int],
                 guidance_proj_dims: Sequence[int]) -> None:
        super().__init__()
        if not len(dims) == len(guidance_dims) == len(guidance_proj_dims):
            raise ValueError('dims, guidance_dims and guidance_proj_dims need one entry per stage, '
                             f'got {list(dims)}, {list(guidance_dims)}, {list(guidance_proj_dims)}')
        guided = bool(guidance_dims) and guidance_dims[0] > 0
        self.guidance_proj = nn.ModuleList([
            nn.Sequential(nn.Conv2d(g, p, kernel_size=3, padding=1), nn.ReLU())
            for g, p in zip(guidance_dims, guidance_proj_dims)
        ]) if guided else None
        blocks, previous = [], in_dim
        for dim, proj in zip(dims, guidance_proj_dims):
            blocks.append(GuidedUpBlock(previous, dim, proj if guided else 0))
            previous = dim
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(previous, 1, kernel_size=3, padding=1)

    def forward(self, x: Tensor, guidance: Sequence[Tensor | None]) -> Tensor:
        """Decodes per-class logits.

        Args:
            x: (B, C, T, h, w) aggregated cost embeddings of T classes.
            guidance: one raw guidance per stage, (B, g_i, h * 2^(i+1), w * 2^(i+1)), or Nones.

        Returns:
            (B, T, h * 2^stages, w * 2^stages) logits.
        """
        b, c, t, h, w = x.shape
        y = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        for i, block in enumerate(self.blocks):
            g = guidance[i] if i < len(guidance) else None
            if g is not None and self.guidance_proj is not None:
                g = self.guidance_proj[i](g)
            else:
                g = None
            y = block(y, g)
        y = self.head(y)
        return y.reshape(b, t, *y.shape[-2:])
