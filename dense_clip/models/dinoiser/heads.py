"""CLIP-DINOiser's two heads.

Wysoczańska et al., "CLIP-DINOiser: Teaching CLIP a few DINO tricks for open-vocabulary semantic
segmentation", ECCV 2024. Layer settings from the authors' code (wysoczanska/clip_dinoiser,
``models/clip_dinoiser/clip_dinoiser.py``, class ``CLIP_DINOiser``):

* ``obj_proj = nn.Conv2d(768, 256, 3, padding=1, padding_mode='replicate')`` on the raw (not
  normalised) LN2 output of block ``feats_idx=-3``; its output is L2-normalised per patch and
  C = P̂ᵀP̂ (patch-by-patch cosine).
* ``bkg_decoder = nn.Conv2d(768, 1, 1)`` on the same features L2-normalised per patch. Its
  sigmoid is trained against FOUND's saliency (1 = salient foreground): the authors call the
  pixel background where the sigmoid is <= 0.5 (``~r_hard_found``). We keep that convention, so
  released weights mean the same thing here: the output is a FOREGROUND logit.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['CorrelationHead', 'BackgroundHead']


class CorrelationHead(nn.Module):
    """One k x k conv (replicate padding) whose normalised output gives patch correlations.

    Args:
        in_channels: CLIP width (768 for ViT-B).
        out_channels: projection width (256 in the paper).
        kernel_size: 3 in the paper.
    """

    def __init__(self, in_channels: int, out_channels: int = 256, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                              padding_mode='replicate')

    def forward(self, feats: Tensor) -> Tensor:
        """(B, C_in, h, w) features -> (B, C_out, h, w) projections, L2-normalised over C."""
        return F.normalize(self.conv(feats), dim=1)

    def correlations(self, feats: Tensor) -> Tensor:
        """(B, C_in, h, w) -> (B, h*w, h*w) cosine correlations C = P̂ᵀP̂, values in [-1, 1]."""
        p = self(feats).flatten(2)
        return p.transpose(1, 2) @ p


class BackgroundHead(nn.Module):
    """1x1 conv on L2-normalised features -> (B, 1, h, w) foreground (saliency) logit.

    Args:
        in_channels: CLIP width (768 for ViT-B).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 1, 1)

    def forward(self, feats: Tensor) -> Tensor:
        return self.conv(F.normalize(feats, dim=1))
