"""CAT-Seg's spatial aggregation: two guided Swin blocks over the cost map of every class.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024,
section 3.2. Details from the authors' code (KU-CVLAB/CAT-Seg
``cat_seg/modeling/transformer/model.py``: ``WindowAttention``, ``SwinTransformerBlock``,
``SwinTransformerBlockWrapper``):

* the window attention has no relative position bias; its queries and keys are projected from the
  normalised cost embedding concatenated with the (normalised) appearance guidance, its values from
  the cost embedding alone; scale ``head_dim ** -0.5``; an output projection follows;
* the pair is a plain block (shift 0) then a shifted one (shift ``window // 2``); when the grid's
  shorter side is at most the window, the window becomes that side and the shift 0 (the
  authors' rule for their fixed ``input_resolution``, applied here per input grid);
* the guidance is normalised once per pair (``guidance_norm``) and rolled with the cost in the
  shifted block; shifted windows are masked with -100 between regions, as in the Swin reference.

Window partitioning, the MLP and the shifted-window layout are timm's (``timm.models.
swin_transformer.window_partition`` / ``window_reverse``, ``timm.layers.Mlp``); the guided
attention is written here because no upstream block concatenates a guidance to its queries and
keys.
"""

from __future__ import annotations

import torch
from timm.layers import Mlp
from timm.models.swin_transformer import window_partition, window_reverse
from torch import Tensor, nn

__all__ = ['GuidedSwinBlock', 'GuidedWindowAttention', 'SpatialAggregation', 'shifted_window_mask']


def shifted_window_mask(height: int, width: int, window: int, shift: int,
                        device: torch.device | None = None) -> Tensor:
    """Additive attention mask of Swin's shifted windows (0 within a region, -100 across).

    Args:
        height: grid rows H (a multiple of ``window``).
        width: grid columns W (a multiple of ``window``).
        window: window side.
        shift: cyclic shift (0 < shift < window).
        device: where to build it.

    Returns:
        (num_windows, window², window²) float32 mask, windows in ``window_partition`` order.
    """
    regions = torch.zeros(1, height, width, 1, device=device)
    label = 0
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for rows in bounds:
        for cols in bounds:
            regions[:, rows, cols, :] = label
            label += 1
    windows = window_partition(regions, (window, window)).reshape(-1, window * window)
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class GuidedWindowAttention(nn.Module):
    """Multi-head window attention whose queries and keys also see a guidance feature.

    Args:
        dim: channels C of the cost embedding.
        guidance_dim: channels G of the guidance (0: no guidance).
        num_heads: attention heads (C must divide by it).
        qkv_bias: bias in the q/k/v projections.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.dim = dim
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim + guidance_dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim + guidance_dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Attends within windows.

        Args:
            x: (N, L, C + G) windows of the cost embedding concatenated with the guidance.
            mask: (num_windows, L, L) additive mask, N = batch * num_windows; or None.

        Returns:
            (N, L, C).
        """
        n, length, _ = x.shape

        def heads(t: Tensor) -> Tensor:
            return t.reshape(n, length, self.num_heads, -1).transpose(1, 2)

        q = heads(self.q(x)) * self.scale
        k, v = heads(self.k(x)), heads(self.v(x[..., :self.dim]))
        attn = q @ k.transpose(-2, -1)  # (N, heads, L, L)
        if mask is not None:
            windows = mask.shape[0]
            attn = attn.view(n // windows, windows, self.num_heads, length, length)
            attn = (attn + mask[None, :, None]).view(n, self.num_heads, length, length)
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, length, -1)
        return self.proj(out)


class GuidedSwinBlock(nn.Module):
    """A Swin block (window attention + MLP, pre-norm residuals) with guided queries and keys.

    Args:
        dim: channels C.
        guidance_dim: guidance channels G (0: none).
        num_heads: attention heads.
        window_size: window side (reduced to the grid's shorter side when that is smaller).
        shift: cyclic shift for this block (0 for the plain block, window // 2 for the shifted).
        mlp_ratio: hidden width of the MLP over C.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, window_size: int,
                 shift: int = 0, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        if not 0 <= shift < window_size:
            raise ValueError(f'shift must be in [0, window_size), got {shift} for {window_size}')
        self.window_size = window_size
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = GuidedWindowAttention(dim, guidance_dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self._masks: dict[tuple, Tensor] = {}

    def layout(self, height: int, width: int) -> tuple[int, int]:
        """(window, shift) used on an (H, W) grid; raises if the grid does not tile."""
        window, shift = self.window_size, self.shift
        if min(height, width) <= window:
            window, shift = min(height, width), 0
        if height % window or width % window:
            raise ValueError(f'a {height}x{width} cost grid does not tile into {window}x{window} '
                             'windows; choose window_size dividing the feature grid')
        return window, shift

    def _mask(self, height: int, width: int, window: int, shift: int,
              device: torch.device) -> Tensor:
        key = (height, width, window, shift, str(device))
        if key not in self._masks:
            self._masks[key] = shifted_window_mask(height, width, window, shift, device)
        return self._masks[key]

    def forward(self, x: Tensor, guidance: Tensor | None) -> Tensor:
        """One block.

        Args:
            x: (N, H, W, C) cost embeddings (N = batch x classes x templates).
            guidance: (N, H, W, G) normalised guidance, or None.

        Returns:
            (N, H, W, C).
        """
        n, height, width, channels = x.shape
        window, shift = self.layout(height, width)
        y = self.norm1(x)
        if guidance is not None:
            y = torch.cat([y, guidance], dim=-1)
        if shift:
            y = torch.roll(y, shifts=(-shift, -shift), dims=(1, 2))
        windows = window_partition(y, (window, window)).reshape(n * (height // window)
                                                                * (width // window),
                                                                window * window, -1)
        mask = self._mask(height, width, window, shift, x.device) if shift else None
        attended = self.attn(windows, mask).reshape(-1, window, window, channels)
        y = window_reverse(attended, (window, window), height, width)
        if shift:
            y = torch.roll(y, shifts=(shift, shift), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class SpatialAggregation(nn.Module):
    """Two guided Swin blocks (plain, then shifted by half a window) over every cost map.

    Args:
        dim: channels C of the cost embedding.
        guidance_dim: channels G of the projected appearance guidance (0: none).
        num_heads: attention heads.
        window_size: window side (12 in the authors' configs).
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, window_size: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([
            GuidedSwinBlock(dim, guidance_dim, num_heads, window_size, shift=0),
            GuidedSwinBlock(dim, guidance_dim, num_heads, window_size, shift=window_size // 2),
        ])
        self.guidance_norm = nn.LayerNorm(guidance_dim) if guidance_dim > 0 else None

    def forward(self, x: Tensor, guidance: Tensor | None) -> Tensor:
        """Aggregates each class's cost spatially.

        Args:
            x: (B, C, T, H, W) cost embeddings, T classes.
            guidance: (B, G, H, W) projected image features, or None.

        Returns:
            (B, C, T, H, W).
        """
        b, c, t, h, w = x.shape
        y = x.permute(0, 2, 3, 4, 1).reshape(b * t, h, w, c)
        g = None
        if guidance is not None and self.guidance_norm is not None:
            g = self.guidance_norm(guidance.permute(0, 2, 3, 1))  # (B, H, W, G)
            g = g.repeat_interleave(t, dim=0)
        for block in self.blocks:
            y = block(y, g)
        return y.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)
