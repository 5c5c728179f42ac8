"""Strategies for the last block of a CLIP image tower: the one place training-free dense CLIP
methods differ (see ``configs/_base_/protocols.md``).

A strategy is a small, stateless-in-spirit object. Called as ``strategy(block, x, grid)`` it takes
the last open_clip ``ResidualAttentionBlock`` of a ViT, the tokens ``x`` entering that block
(B, 1 + h*w, C; CLS first) and the patch grid (h, w), and returns the tokens leaving it, same shape.
Everything a method changes is in three places of the class:

* ``attention(q, k, v, grid)``: the attention weights (B, heads, N, N) built from the block's own
  q, k, v = projections of LN1(x), split per head (B, heads, N, head_dim);
* ``keep_residual`` / ``keep_ffn``: class attributes saying whether the block's residual path and
  its feed-forward branch are kept. They belong to each method's definition; a constructor
  argument may override them per instance for ablations;
* ``forward_attnpool``: the ResNet (attention-pool) variant, where a method defines one.

Methods and sources (papers first, then the authors' public code that fixed the details):

* Vanilla: Radford et al., "Learning Transferable Visual Models From Natural Language
  Supervision", ICML 2021.
* MaskCLIP: Zhou, Loy, Dai, "Extract Free Dense Labels from CLIP", ECCV 2022.
* SCLIP: Wang, Mei, Yuille, "SCLIP: Rethinking Self-Attention for Dense Vision-Language
  Inference", ECCV 2024.
* ClearCLIP: Lan et al., "ClearCLIP: Decomposing CLIP Representations for Dense
  Vision-Language Inference", ECCV 2024.
* NACLIP: Hajimiri, Ben Ayed, Dolz, "Pay Attention to Your Neighbours: Training-Free
  Open-Vocabulary Semantic Segmentation", WACV 2025.
* CLIPtrase: Shao et al., "Explore the Potential of CLIP for Training-Free Open Vocabulary
  Semantic Segmentation", ECCV 2024.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dense_clip.registry import LAST_BLOCKS, build_component

from .dense_pass import DenseOutput, DenseRequest
from .ops import (
    apply_ffn,
    attnpool_qkv,
    merge_heads,
    project_out,
    project_qkv,
    softmax_f32,
)

Grid = tuple[int, int]


# ----------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------
class LastBlockStrategy:
    """Base class: how the last block mixes tokens and which of its paths are kept.

    Args:
        keep_residual: overrides the class's ``keep_residual`` for this instance (ablations).
        keep_ffn: overrides the class's ``keep_ffn`` for this instance (ablations).
    """

    keep_residual: bool = True
    keep_ffn: bool = True
    #: Side outputs ``compute_extras`` reads from the same pass (see ``DenseRequest``).
    request: DenseRequest = DenseRequest()
    #: Names of the ``DenseOutput.extras`` that ``compute_extras`` returns.
    extras_names: tuple[str, ...] = ()

    def __init__(self, keep_residual: bool | None = None, keep_ffn: bool | None = None) -> None:
        if keep_residual is not None:
            self.keep_residual = keep_residual
        if keep_ffn is not None:
            self.keep_ffn = keep_ffn

    @property
    def is_vanilla(self) -> bool:
        """True when the strategy reproduces the unchanged block exactly."""
        return False

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        """Attention weights (B, heads, N, N) from per-head q, k, v (B, heads, N, d)."""
        raise NotImplementedError

    def mix(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        """Mixed values (B, heads, N, d); by default ``attention(...) @ v``."""
        return self.attention(q, k, v, grid) @ v

    # Hooks for strategies that need more than the block's own tokens (e.g. ProxyCLIP's proxy
    # features of the same images). The defaults do nothing.
    def submodules(self) -> dict[str, nn.Module]:
        """Modules the strategy owns; the encoder registers them (device moves, state dict)."""
        return {}

    def prepare(self, images: Tensor) -> Any:
        """Called by the encoder with its (B, 3, H, W) input before the pass; the result is
        passed back as ``context`` to ``__call__`` and ``output_grid``. Default: None."""
        return None

    def output_grid(self, grid: Grid, context: Any = None) -> Grid:
        """Patch grid of the tokens ``__call__`` returns; by default the input grid."""
        return grid

    def __call__(self, block: nn.Module, x: Tensor, grid: Grid, context: Any = None) -> Tensor:
        """Runs the modified last block.

        Args:
            block: the last open_clip ViT block.
            x: (B, 1 + h*w, C) tokens entering it, batch first, CLS first.
            grid: (h, w) patch grid of ``x``.
            context: what ``prepare`` returned for this pass (unused here).

        Returns:
            (B, 1 + h'*w', C) tokens leaving the block (before ln_post), CLS first, on
            ``output_grid(grid, context)`` (the input grid for every built-in but ProxyCLIP).
        """
        q, k, v = project_qkv(block, x)
        out = project_out(block, self.mix(q, k, v, grid))
        if self.keep_residual:
            out = x + out
        if self.keep_ffn:
            out = apply_ffn(block, out)
        return out

    def forward_attnpool(self, pool: nn.Module, feats: Tensor, pos: Tensor) -> Tensor:
        """Dense features of a CLIP ResNet from its attention pool.

        Args:
            pool: open_clip ``AttentionPool2d``.
            feats: (B, h*w, C5) flattened C5 features.
            pos: (h*w + 1, C5) positional embedding resized to this grid.

        Returns:
            (B, h*w, D) dense features in the joint space.
        """
        raise ValueError(
            f'{type(self).__name__} has no ResNet variant; use one of {sorted(_RESNET_STRATEGIES)}'
        )

    def compute_extras(self, out: DenseOutput, resblocks: Sequence[nn.Module]) -> dict[str, Tensor]:
        """Side outputs of the strategy, computed after the pass.

        Args:
            out: the pass so far, holding what ``request`` asked for (``dense`` and ``grid`` set).
            resblocks: the tower's transformer blocks.

        Returns:
            Named tensors for ``DenseOutput.extras``; empty by default.
        """
        return {}

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(keep_residual={self.keep_residual}, keep_ffn={self.keep_ffn})'
        )


@LAST_BLOCKS.register_module()
class Vanilla(LastBlockStrategy):
    """CLIP's own block: softmax(q kᵀ s) attention, residual and FFN kept (Radford et al. 2021).

    Equals open_clip's ``ResidualAttentionBlock.forward``. On a ResNet, the attention pool applied
    to every spatial token (queries from all tokens, positional embedding added).
    """

    @property
    def is_vanilla(self) -> bool:
        return self.keep_residual and self.keep_ffn

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        return softmax_f32(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5)

    def forward_attnpool(self, pool: nn.Module, feats: Tensor, pos: Tensor) -> Tensor:
        tokens = torch.cat([feats.mean(dim=1, keepdim=True), feats], dim=1) + pos.to(feats.dtype)
        q, k, v = attnpool_qkv(pool, tokens)
        mixed = self.attention(q, k, v, (0, 0)) @ v
        return pool.c_proj(merge_heads(mixed))[:, 1:]


@LAST_BLOCKS.register_module()
class MaskCLIP(LastBlockStrategy):
    """MaskCLIP (Zhou et al., ECCV 2022): identity attention, each token takes its own value.

    ViT: out = out_proj(v) + x, then + FFN(LN2(out)); residual and FFN kept, as in the authors'
    mmseg ViT backbone (``TransformerEncoderLayer.forward`` with ``return_qkv``: ``v += x`` then
    ``ffn(norm2(v), identity=v)``). ResNet: the attention pool's q/k are dropped and the feature is
    c_proj(v_proj(C5)) applied as 1x1 convolutions, no positional embedding.

    Key smoothing and prompt denoising (the paper's refinements) act on the dense logits and
    belong to the segmentation head, not to this block.
    """

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        b, h, n, _ = q.shape
        return torch.eye(n, dtype=q.dtype, device=q.device).expand(b, h, n, n)

    def mix(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        return v  # identity attention without building the N x N matrix

    def forward_attnpool(self, pool: nn.Module, feats: Tensor, pos: Tensor) -> Tensor:
        return pool.c_proj(pool.v_proj(feats))


@LAST_BLOCKS.register_module()
class SCLIP(LastBlockStrategy):
    """SCLIP (Wang et al., ECCV 2024): correlative self-attention softmax(q qᵀ s) + softmax(k kᵀ s).

    The two softmaxes are summed without renormalising (rows sum to 2). Residual and FFN kept: the
    authors' ``clip/model.py`` runs ``x = x + custom_attn(blk.attn, blk.ln_1(x), csa=True)`` then
    ``x = x + blk.mlp(blk.ln_2(x))`` for the last block (wangf3014/SCLIP).
    """

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        s = q.shape[-1] ** -0.5
        return softmax_f32(q @ q.transpose(-2, -1) * s) + softmax_f32(k @ k.transpose(-2, -1) * s)


@LAST_BLOCKS.register_module()
class ClearCLIP(LastBlockStrategy):
    """ClearCLIP (Lan et al., ECCV 2024): softmax(q qᵀ s), output = out_proj(attn · v).

    No residual and no FFN (the authors' ``ignore_residual=True`` default in
    ``clearclip_segmentor.py``, whose ``custom_attn`` 'ClearCLIP' branch is q-q attention).
    """

    keep_residual = False
    keep_ffn = False

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        return softmax_f32(q @ q.transpose(-2, -1) * q.shape[-1] ** -0.5)


@LAST_BLOCKS.register_module()
class NACLIP(LastBlockStrategy):
    """NACLIP (Hajimiri et al., WACV 2025): softmax(k kᵀ s + ω), no residual, no FFN.

    ω[p, p'] = exp(-|p - p'|² / (2 std²)) over patch coordinates (in patches), an unnormalised
    Gaussian (peak 1) centred on each query patch, added in LOGIT space before the softmax and not
    multiplied by s; the CLS row and column of ω are 0. Settings from the authors' public code
    (sinahmr/NACLIP): ``naclip.py`` defaults ``arch='reduced'`` (output = out_proj(attn · v), no
    residual, no FFN), ``attn_strategy='naclip'``, ``gaussian_std=5.``; ``clip/model.py`` builds ω
    by convolving a (2h-1, 2w-1) window ``exp(-d²/(2 std²))`` over one-hot patch maps, which equals
    the closed form above, and caches it per grid. PAMR post-processing is a segmentor step.

    Args:
        gaussian_std: standard deviation of ω in patches.
    """

    keep_residual = False
    keep_ffn = False

    def __init__(self, gaussian_std: float = 5.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if gaussian_std <= 0:
            raise ValueError(f'gaussian_std must be > 0, got {gaussian_std}')
        self.gaussian_std = float(gaussian_std)
        self._omega_cache: dict[tuple, Tensor] = {}

    def omega(
        self, grid: Grid, device: torch.device | None = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """The additive neighbourhood bias (1 + h*w, 1 + h*w), CLS row/column zero, cached."""
        key = (tuple(grid), str(device), dtype)
        if key not in self._omega_cache:
            h, w = grid
            ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
            coords = torch.stack([ys.flatten(), xs.flatten()], dim=-1).double()
            dist2 = (coords[:, None] - coords[None]).pow(2).sum(-1)
            omega = torch.zeros(h * w + 1, h * w + 1, dtype=torch.float64)
            omega[1:, 1:] = torch.exp(-dist2 / (2 * self.gaussian_std**2))
            self._omega_cache[key] = omega.to(device=device, dtype=dtype)
        return self._omega_cache[key]

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        n = k.shape[-2]
        if n != grid[0] * grid[1] + 1:
            raise ValueError(f'NACLIP needs 1 + h*w tokens for grid {grid}, got {n}')
        logits = k @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        return softmax_f32(logits + self.omega(grid, k.device, k.dtype))

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, gaussian_std={self.gaussian_std})'


@LAST_BLOCKS.register_module()
class CLIPtrase(LastBlockStrategy):
    """CLIPtrase (Shao et al., ECCV 2024): self-correlation attention, residual and FFN kept.

    Last block: softmax(q qᵀ s) + softmax(k kᵀ s) + softmax(v vᵀ s) (scale s on all three, rows
    sum to 3), then the block's own residual and FFN, as in the authors' ``clip_utils/attn2.py``
    (``self_qk_weight`` branch) and ``clip_utils/model.py`` (leaves162/CLIPtrase).

    Recalibrated patch self-correlation (``extras['self_correlation']``): from the block at
    ``correlation_block`` (the authors use block 11 of 12, i.e. -2), whose own output is left
    unchanged, S = mean over heads of (cos(q, q) + cos(k, k) + cos(v, v)) / 3 on its LN1 input;
    then patch rows minus the CLS row (over patch columns), clamped at 0: (B, h*w, h*w).

    The paper's DBSCAN clustering and cluster vote on that map are the segmentation step
    ``ClusterVote`` (``dense_clip.seg.steps``). Its reported numbers use a centre crop.

    Args:
        correlation_block: block index (Python style) whose input gives the self-correlation;
            None skips it.
    """

    def __init__(self, correlation_block: int | None = -2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.correlation_block = correlation_block
        if correlation_block is not None:
            self.request = DenseRequest(block_inputs=(correlation_block,))
            self.extras_names = ('self_correlation',)

    def attention(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        s = q.shape[-1] ** -0.5
        return sum(softmax_f32(t @ t.transpose(-2, -1) * s) for t in (q, k, v))

    @staticmethod
    def self_correlation(block: nn.Module, x: Tensor) -> Tensor:
        """Head-averaged (cos qq + cos kk + cos vv) / 3 of a block: (B, N, C) -> (B, N, N)."""
        sims = [
            F.normalize(t, dim=-1) @ F.normalize(t, dim=-1).transpose(-2, -1)
            for t in project_qkv(block, x)
        ]
        return (sum(sims) / 3.0).mean(dim=1)

    @staticmethod
    def recalibrate(corr: Tensor) -> Tensor:
        """Patch rows minus the CLS row, clamped at 0: (B, N, N) -> (B, N-1, N-1)."""
        return (corr[:, 1:, 1:] - corr[:, :1, 1:]).clamp(min=0)

    def compute_extras(self, out: DenseOutput, resblocks: Sequence[nn.Module]) -> dict[str, Tensor]:
        if self.correlation_block is None:
            return {}
        block = resblocks[self.correlation_block]
        x = out.block_inputs[self.correlation_block]
        return {'self_correlation': self.recalibrate(self.self_correlation(block, x))}

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, correlation_block={self.correlation_block})'


_RESNET_STRATEGIES = ('MaskCLIP', 'Vanilla')


def build_last_block(cfg: LastBlockStrategy | str | dict | None = None) -> LastBlockStrategy:
    """Builds a strategy from an instance, a name or a config dict.

    Args:
        cfg: a ``LastBlockStrategy`` (returned as is), a registered name (case-insensitive, e.g.
            ``'naclip'``), a dict ``dict(type='NACLIP', gaussian_std=5.)``, or None (Vanilla).

    Returns:
        The strategy object.

    Raises:
        ValueError: unknown name; the message lists the registered ones.
    """
    if cfg is None:
        return Vanilla()
    return build_component(LAST_BLOCKS, cfg, LastBlockStrategy)
