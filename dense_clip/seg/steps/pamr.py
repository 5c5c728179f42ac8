"""Pixel-adaptive mask refinement (PAMR), an image-stage segmentation step.

Araslanov & Roth, "Single-Stage Semantic Segmentation from Image Labels", CVPR 2020, Sec. 3.3.
Their public implementation (visinf/1-stage-wseg, ``models/mods/pamr.py``, Apache-2.0) is the
one SCLIP and NACLIP ship as ``pamr.py``; this module follows its definition (the code here is
written anew):

* Neighbours of pixel i: for every dilation d, the 8 pixels at offsets d·(dy, dx),
  dy, dx ∈ {-1, 0, 1}, (dy, dx) ≠ (0, 0); outside the image the border pixel is repeated.
* Affinity, per image channel: k(i, j) = -|I_i - I_j| / (1e-8 + 0.1 σ_i), where σ_i is the
  (unbiased) standard deviation of that channel over i's dilated 3x3 windows of all dilations,
  the centre counted once per dilation. k is averaged over channels and turned into weights
  α(i, ·) by a softmax over all neighbours of all dilations (the centre itself is not one).
* Refinement: m ← Σ_j α(i, j) m_j, repeated ``num_iter`` times, every class map independently.

Settings. The paper's code defaults (``core/config.py``: ``PAMR_KERNEL = [1, 2, 4, 8, 12, 24]``,
``PAMR_ITER = 10``) are this module's defaults. NACLIP turns PAMR on by default with
``pamr_steps=10, pamr_stride=(8, 16)`` (sinahmr/NACLIP, ``naclip.py``), i.e. dilations (8, 16):
:data:`NACLIP_DILATIONS`; SCLIP has the same dilations with PAMR off by default. Both apply it
to the raw cosine logits upsampled to the input image size (before logit scale and softmax),
with the normalised network input as the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from dense_clip.registry import SEG_STEPS

from .base import Prediction, SegStep, StepContext

__all__ = ['NACLIP_DILATIONS', 'PAMR', 'PAPER_DILATIONS']

PAPER_DILATIONS: tuple[int, ...] = (1, 2, 4, 8, 12, 24)
NACLIP_DILATIONS: tuple[int, ...] = (8, 16)

# The 8 neighbour directions (dy, dx) of a 3x3 window, row by row.
_DIRECTIONS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


@SEG_STEPS.register_module()
class PAMR(SegStep):
    """Refines class maps so they follow the edges of the image.

    As a segmentation step (stage 'image') it refines the whole image's scores, in whatever
    space they are, with the normalised network input resized to them as the image (SCLIP and
    NACLIP apply it to the upsampled cosine logits). :meth:`refine` is the plain function. Has
    no parameters; gradients flow through it (detach the masks if you do not want them).

    Args:
        num_iter: Refinement steps; 0 returns the (resized) masks unchanged.
        dilations: Neighbourhood dilations in pixels.
        sigma_scale: Multiplies the local standard deviation in the affinity denominator
            (0.1 in the reference).
        eps: Added to the denominator (1e-8 in the reference).
    """

    stage = 'image'
    bounded_ok = True  # each class map is refined on its own

    def __init__(self, num_iter: int = 10, dilations: Sequence[int] = PAPER_DILATIONS,
                 sigma_scale: float = 0.1, eps: float = 1e-8) -> None:
        super().__init__()
        dilations = tuple(int(d) for d in dilations)
        if not dilations or min(dilations) < 1:
            raise ValueError(f'dilations must be positive integers, got {dilations}')
        if num_iter < 0:
            raise ValueError(f'num_iter must be >= 0, got {num_iter}')
        self.num_iter = int(num_iter)
        self.dilations = dilations
        self.sigma_scale = float(sigma_scale)
        self.eps = float(eps)
        self._pad = max(dilations)
        self._offsets = tuple((dy * d, dx * d) for d in dilations for dy, dx in _DIRECTIONS)

    def extra_repr(self) -> str:
        return f'num_iter={self.num_iter}, dilations={self.dilations}'

    def _neighbours(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Shifted copies of x (B, K, H, W), one per offset, borders replicated."""
        height, width = x.shape[-2:]
        pad = self._pad
        padded = F.pad(x, [pad] * 4, mode='replicate')
        return [padded[..., pad + dy:pad + dy + height, pad + dx:pad + dx + width]
                for dy, dx in self._offsets]

    def affinity(self, image: torch.Tensor) -> torch.Tensor:
        """Neighbour weights of every pixel.

        Args:
            image: (B, K, H, W) float image, any value range (the reference uses the network's
                normalised input).

        Returns:
            (B, P, H, W) weights (float32 or wider) summing to 1 over P = 8 * len(dilations)
            neighbours, in dilation-major order of :attr:`dilations` and row-major 3x3
            directions.
        """
        image = image.to(torch.promote_types(image.dtype, torch.float32))  # see forward
        neighbours = self._neighbours(image)
        # The std window: every neighbour plus the centre once per dilation (9 per dilation).
        count = len(neighbours) + len(self.dilations)
        mean = (torch.stack(neighbours).sum(0) + len(self.dilations) * image) / count
        squares = sum((n - mean).square() for n in neighbours)
        squares = squares + len(self.dilations) * (image - mean).square()
        std = (squares / (count - 1)).sqrt()
        scale = self.eps + self.sigma_scale * std
        logits = torch.stack([-(image - n).abs().div(scale).mean(1) for n in neighbours], dim=1)
        return logits.softmax(dim=1)

    def propagate(self, masks: torch.Tensor, affinity: torch.Tensor) -> torch.Tensor:
        """One refinement step: (B, C, H, W) masks, (B, P, H, W) affinity -> (B, C, H, W)."""
        out = torch.zeros_like(masks)
        for p, shifted in enumerate(self._neighbours(masks)):
            out = out + affinity[:, p:p + 1] * shifted
        return out

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if ctx.image is None:
            raise ValueError('PAMR needs the image (the image stage provides it)')
        pred.scores = self.refine(ctx.image, pred.scores)
        return pred

    def refine(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Refines class maps.

        Args:
            image: (B, K, H, W) float image (K = 3 for RGB).
            masks: (B, C, h, w) class logits or probabilities; resized bilinearly to (H, W)
                (``align_corners=True``, as the reference) when the sizes differ.

        Returns:
            (B, C, H, W) refined maps in the dtype of ``masks`` (computed in float32 or wider).
            Each step is a convex combination of neighbours, so probabilities stay
            probabilities.
        """
        if image.dim() != 4 or masks.dim() != 4:
            raise ValueError('image and masks must be 4-D (B, K, H, W) and (B, C, h, w), got '
                             f'{tuple(image.shape)} and {tuple(masks.shape)}')
        if image.shape[0] != masks.shape[0]:
            raise ValueError(f'batch sizes differ: image {image.shape[0]}, masks {masks.shape[0]}')
        # At least float32 inside: in float16 the 1e-8 of the denominator underflows to 0 and a
        # flat image region gives 0 / 0.
        dtype = torch.promote_types(torch.promote_types(image.dtype, masks.dtype), torch.float32)
        out_dtype = masks.dtype if masks.is_floating_point() else dtype
        masks = masks.to(dtype)
        if masks.shape[-2:] != image.shape[-2:]:
            masks = F.interpolate(masks, size=image.shape[-2:], mode='bilinear',
                                  align_corners=True)
        if self.num_iter == 0:
            return masks.to(out_dtype)
        affinity = self.affinity(image.to(dtype))
        for _ in range(self.num_iter):
            masks = self.propagate(masks, affinity)
        return masks.to(out_dtype)
