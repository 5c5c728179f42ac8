"""One dense pass of an open_clip image tower, and the typed result every head reads.

``CLIPDenseEncoder`` wraps the ``visual`` tower of an open_clip ``CLIP`` model (never a copy of
it): a ``VisionTransformer`` or a ``ModifiedResNet``. It re-runs the tower's own modules in order so
that it can (a) resize positional embeddings to any input grid, (b) hand the last block to a
strategy from ``last_block.py`` (MaskCLIP, SCLIP, ClearCLIP, NACLIP, CLIPtrase, ProxyCLIP, ...),
and (c) return, from the same single pass, whatever side outputs its consumers asked for in a
:class:`DenseRequest` (intermediate block outputs, block inputs, the FFN input of a block, the
last block's q/k/v). Segmentation heads, post-steps, detection's region encoder and SAM mask
pooling all read the resulting :class:`DenseOutput`; none of them hooks into CLIP.

Blocks the strategy does not change run as open_clip's own blocks in float32 (their
``nn.MultiheadAttention`` takes PyTorch's fused inference kernel; the float32 results stay
bit-exact), and in bfloat16 through ``ops.run_block``: one ``F.scaled_dot_product_attention`` call
on views of the packed q, k, v projection, weights in oneDNN's layout (``packed_linear``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import VisionTransformer
from torch import Tensor, nn

from .dense_pass import DenseOutput, DenseRequest
from .last_block import LastBlockStrategy, Vanilla, build_last_block
from .ops import attnpool_global, project_qkv, run_block, use_fast_block, vanilla_cls_token

PosEmbedInterp = Literal['size', 'authors']
POS_EMBED_INTERP_MODES = ('size', 'authors')


def resize_pos_embed(
    pos: Tensor, src_grid: tuple[int, int], dst_grid: tuple[int, int], mode: PosEmbedInterp = 'size'
) -> Tensor:
    """Resizes a (1 + g0h*g0w, C) positional embedding (CLS first) to another patch grid.

    Args:
        pos: (1 + g0h*g0w, C) embedding, leading token (CLS / mean token) first.
        src_grid: (g0h, g0w) grid the embedding was trained for.
        dst_grid: (h, w) target grid.
        mode: 'size': bicubic ``F.interpolate(size=(h, w))``, align_corners=False, no antialias
            (open_clip / timm / MaskCLIP-mmseg style). 'authors': bicubic with
            ``scale_factor=((h + 0.1) / g0h, (w + 0.1) / g0w)``, the DINO-style interpolation the
            SCLIP / ClearCLIP / NACLIP repositories share (their ``interpolate_pos_encoding``);
            values differ from 'size' by up to ~0.4.

    Returns:
        (1 + h*w, C) embedding, same dtype. Returned unchanged when the grids are equal (both
        modes; the authors' code also skips interpolation at the training grid).
    """
    if mode not in POS_EMBED_INTERP_MODES:
        raise ValueError(f'pos_embed_interp must be one of {POS_EMBED_INTERP_MODES}, got {mode!r}')
    (g0h, g0w), (h, w) = tuple(src_grid), tuple(dst_grid)
    if (g0h, g0w) == (h, w):
        return pos
    lead, patches = pos[:1], pos[1:]
    grid = patches.float().reshape(1, g0h, g0w, -1).permute(0, 3, 1, 2)
    if mode == 'size':
        grid = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False)
    else:
        grid = F.interpolate(
            grid,
            scale_factor=((h + 0.1) / g0h, (w + 0.1) / g0w),
            mode='bicubic',
            align_corners=False,
        )
        if tuple(grid.shape[-2:]) != (h, w):  # cannot happen for sane sizes; guard anyway
            raise RuntimeError(
                f"'authors' interpolation gave {tuple(grid.shape[-2:])}, expected {(h, w)}"
            )
    patches = grid.permute(0, 2, 3, 1).reshape(h * w, -1).to(pos.dtype)
    return torch.cat([lead, patches], dim=0)


def _run_block_with_ffn_input(block: nn.Module, x: Tensor,
                              batch_first: bool = True) -> tuple[Tensor, Tensor]:
    """Runs an open_clip ``ResidualAttentionBlock`` in its two halves, keeping the FFN input.

    Same operations in the same order as the block's own ``forward`` (so the output is
    bit-identical): x + ls_1(attention(LN1 x)), then + ls_2(mlp(LN2 .)).

    Args:
        block: the block (batch-first tokens).
        x: (B, N, C) tokens entering it.
        batch_first: False for towers whose blocks run (N, B, C).

    Returns:
        (block output (B, N, C), LN2 output (B, N, C)), batch first.
    """
    if not all(hasattr(block, name) for name in ('attention', 'ln_1', 'ln_2', 'mlp', 'ls_1')) \
            or hasattr(block, 'ln_attn'):
        raise NotImplementedError(
            f'ffn_inputs need an open_clip ResidualAttentionBlock, got {type(block).__name__}')
    if not batch_first:
        y, ffn_input = _run_block_with_ffn_input(block, x.transpose(0, 1))
        return y.transpose(0, 1), ffn_input.transpose(0, 1)
    mid = x + block.ls_1(block.attention(q_x=block.ln_1(x)))
    ffn_input = block.ln_2(mid)
    return mid + block.ls_2(block.mlp(ffn_input)), ffn_input


def _run_unchanged_block(block: nn.Module, x: Tensor, batch_first: bool,
                         keep_ffn_input: bool) -> tuple[Tensor, Tensor | None]:
    """A block the strategy does not change: :func:`run_block` (fused attention, packed
    bfloat16 weights) where :func:`use_fast_block` says so, else the block's own modules.
    (B, N, C) -> (output, FFN input or None)."""
    if batch_first and use_fast_block(block, x):
        return run_block(block, x, keep_ffn_input=keep_ffn_input)
    if keep_ffn_input:
        return _run_block_with_ffn_input(block, x, batch_first)
    if batch_first:
        return block(x), None
    return block(x.transpose(0, 1)).transpose(0, 1), None  # older towers run (N, B, C)


class CLIPDenseEncoder(nn.Module):
    """Dense CLIP image encoder around an open_clip visual tower.

    Args:
        clip_model: an open_clip ``CLIP`` / ``CustomTextCLIP`` model or its ``visual`` tower
            (``VisionTransformer`` without attentional pooling, or ``ModifiedResNet``). Wrapped,
            not copied: weights are shared.
        last_block: strategy for the last ViT block (or the ResNet attention pool): an object, a
            registered name or a config dict, see ``build_last_block``. Default: Vanilla.
        pos_embed_interp: 'size' or 'authors', see ``resize_pos_embed``.
        vanilla_cls: if True, ``cls`` is CLIP's unchanged image embedding (computed from the
            unchanged last block on the same input, one query row for 'tok' pooling) whatever the
            strategy; if False, it is pooled from the strategy's own output tokens. ResNets always
            use the unchanged attention pool.

    Notes:
        * ViT inputs whose H or W is not a multiple of the patch size: the patch convolution drops
          the remainder (bottom rows / right columns); ``DenseOutput.grid`` reports the grid used.
        * Patch dropout is never applied (it would break the grid).
        * Resized positional embeddings are cached per grid while the weights are unchanged and
          autograd does not need them.
    """

    def __init__(
        self,
        clip_model: nn.Module,
        last_block: LastBlockStrategy | str | dict | None = None,
        pos_embed_interp: PosEmbedInterp = 'size',
        vanilla_cls: bool = True,
    ) -> None:
        super().__init__()
        visual = getattr(clip_model, 'visual', clip_model)
        if isinstance(visual, VisionTransformer):
            if visual.attn_pool is not None:
                raise ValueError(
                    'CLIPDenseEncoder does not support ViTs with attentional pooling '
                    '(e.g. CoCa): their tokens have no per-patch joint-space output'
                )
            self.arch = 'vit'
        elif isinstance(visual, ModifiedResNet):
            self.arch = 'resnet'
        else:
            raise TypeError(
                f'expected an open_clip VisionTransformer or ModifiedResNet tower, '
                f'got {type(visual).__name__}'
            )
        if pos_embed_interp not in POS_EMBED_INTERP_MODES:
            raise ValueError(
                f'pos_embed_interp must be one of {POS_EMBED_INTERP_MODES}, '
                f'got {pos_embed_interp!r}'
            )
        self.visual = visual
        self.last_block = build_last_block(last_block)
        # Modules a strategy owns (ProxyCLIP's proxy model) follow the encoder across devices.
        owned = self.last_block.submodules()
        if owned:
            self.strategy_modules = nn.ModuleDict(owned)
        self.pos_embed_interp = pos_embed_interp
        self.vanilla_cls = vanilla_cls
        self._pos_cache: dict[tuple, tuple[tuple, Tensor]] = {}

    # ------------------------------------------------------------------------------------------
    @property
    def embed_dim(self) -> int:
        """D, the joint-space width of ``dense`` and ``cls``."""
        if self.arch == 'resnet':
            return self.visual.attnpool.c_proj.out_features
        proj = self.visual.proj
        return proj.shape[1] if proj is not None else self.visual.ln_post.normalized_shape[0]

    @property
    def patch_size(self) -> tuple[int, int]:
        """(ph, pw) pixels per output cell (32 for CLIP ResNets)."""
        if self.arch == 'resnet':
            return (32, 32)
        return tuple(self.visual.conv1.kernel_size)

    @property
    def num_blocks(self) -> int:
        """Number of transformer blocks (ViT) or stages (ResNet: stem + 4 layers)."""
        return len(self.visual.transformer.resblocks) if self.arch == 'vit' else 5

    def _native_grid(self) -> tuple[int, int]:
        if self.arch == 'resnet':
            n = self.visual.attnpool.positional_embedding.shape[0] - 1
            return (math.isqrt(n), math.isqrt(n))
        return tuple(self.visual.grid_size)

    def _pos_embed(self, pos: Tensor, grid: tuple[int, int]) -> Tensor:
        """Positional embedding (1 + h*w, C) for ``grid``, cached per grid."""
        if torch.is_grad_enabled() and pos.requires_grad:
            return resize_pos_embed(pos, self._native_grid(), grid, self.pos_embed_interp)
        key = (self.pos_embed_interp, tuple(grid))
        stamp = (pos.data_ptr(), pos._version, pos.dtype, pos.device)
        hit = self._pos_cache.get(key)
        if hit is None or hit[0] != stamp:
            value = resize_pos_embed(pos.detach(), self._native_grid(), grid, self.pos_embed_interp)
            hit = (stamp, value)
            self._pos_cache[key] = hit
        return hit[1]

    def _normalise_indices(self, indices: Sequence[int]) -> dict[int, list[int]]:
        """Maps absolute block index -> requested keys; rejects out-of-range indices."""
        n = self.num_blocks
        wanted: dict[int, list[int]] = {}
        for index in indices:
            if not -n <= index < n:
                raise IndexError(f'block index {index} out of range for {n} blocks')
            wanted.setdefault(index % n, []).append(index)
        return wanted

    # ------------------------------------------------------------------------------------------
    def forward(
        self,
        images: Tensor,
        request: DenseRequest | None = None,
        return_blocks: Sequence[int] = (),
    ) -> DenseOutput:
        """Encodes images into dense joint-space features, in one pass.

        Args:
            images: (B, 3, H, W) float, CLIP-normalised (mean/std of the model). Cast to the
                tower's weight dtype (e.g. bf16).
            request: side outputs to return (see :class:`DenseRequest`); the strategy's own
                request is added to it.
            return_blocks: shorthand for ``DenseRequest(blocks=return_blocks)``.

        Returns:
            ``DenseOutput`` with dense (B, D, h, w), cls (B, D) or None, grid and the requested
            side outputs.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f'expected images (B, 3, H, W), got {tuple(images.shape)}')
        request = DenseRequest.combine(
            (request, DenseRequest(blocks=tuple(return_blocks)), self.last_block.request))
        if self.arch == 'resnet':
            if request.block_inputs or request.ffn_inputs or request.last_qkv:
                raise ValueError('block_inputs, ffn_inputs and last_qkv need a ViT tower; a '
                                 f'ResNet gives stage outputs only (got {request})')
            return self._forward_resnet(images, self._normalise_indices(request.blocks))
        return self._forward_vit(images, request)

    def _forward_vit(self, images: Tensor, request: DenseRequest) -> DenseOutput:
        visual, strategy = self.visual, self.last_block
        want_out = self._normalise_indices(request.blocks)
        want_in = self._normalise_indices(request.block_inputs)
        want_ffn = self._normalise_indices(request.ffn_inputs)
        context = strategy.prepare(images)
        x = visual.conv1(images.to(visual.conv1.weight.dtype))  # (B, C, h, w)
        b, c, h, w = x.shape
        grid = (h, w)
        x = x.flatten(2).transpose(1, 2)  # (B, h*w, C)
        cls_token = visual.class_embedding.to(x.dtype).reshape(1, 1, c).expand(b, 1, c)
        x = torch.cat([cls_token, x], dim=1)
        x = x + self._pos_embed(visual.positional_embedding, grid).to(x.dtype)
        x = visual.ln_pre(x)

        resblocks = visual.transformer.resblocks
        n = len(resblocks)
        batch_first = getattr(visual.transformer, 'batch_first', True)
        out = DenseOutput(dense=x, cls=None, grid=grid, patch_grid=grid)
        for i, block in enumerate(resblocks[:-1]):
            for key in want_in.get(i, ()):
                out.block_inputs[key] = x
            x, ffn_input = _run_unchanged_block(block, x, batch_first, i in want_ffn)
            for key in want_ffn.get(i, ()):
                out.ffn_inputs[key] = ffn_input
            for key in want_out.get(i, ()):
                out.blocks[key] = x
        last = resblocks[-1]
        for key in want_in.get(n - 1, ()):
            out.block_inputs[key] = x
        if n - 1 in want_ffn:
            ffn_input = _run_unchanged_block(last, x, batch_first, True)[1]
            for key in want_ffn[n - 1]:
                out.ffn_inputs[key] = ffn_input
        if request.last_qkv:
            out.qkv = project_qkv(last, x)
        if context is None:
            tokens = strategy(last, x, grid)  # (B, 1 + h*w, C)
        else:
            tokens = strategy(last, x, grid, context)
        out_grid = tuple(strategy.output_grid(grid, context))  # ProxyCLIP: the proxy's grid
        for key in want_out.get(n - 1, ()):
            out.blocks[key] = tokens

        dense = self._project(visual.ln_post(tokens[:, 1:]))  # (B, h'*w', D)
        out.dense = dense.transpose(1, 2).reshape(b, -1, *out_grid)
        out.grid = out_grid
        out.cls = self._vit_cls(last, x, tokens, grid)
        out.extras = strategy.compute_extras(out, resblocks)
        return out

    def _project(self, t: Tensor) -> Tensor:
        proj = self.visual.proj
        return t @ proj if proj is not None else t

    def _vit_cls(
        self, last: nn.Module, x: Tensor, tokens: Tensor, grid: tuple[int, int]
    ) -> Tensor | None:
        """CLS embedding following the tower's pool_type / final_ln_after_pool: (B, D) or None."""
        visual = self.visual
        pool_type = visual.pool_type
        if pool_type == 'none':
            return None
        ref = tokens
        if self.vanilla_cls and not self.last_block.is_vanilla:
            ref = vanilla_cls_token(last, x) if pool_type == 'tok' else Vanilla()(last, x, grid)
        if visual.final_ln_after_pool:
            pooled = ref[:, 0] if pool_type == 'tok' else ref[:, 1:].mean(dim=1)
            pooled = visual.ln_post(pooled)
        else:
            ref = visual.ln_post(ref)
            pooled = ref[:, 0] if pool_type == 'tok' else ref[:, 1:].mean(dim=1)
        return self._project(pooled)

    def _forward_resnet(self, images: Tensor, wanted: dict[int, list[int]]) -> DenseOutput:
        visual = self.visual
        x = images.to(visual.conv1.weight.dtype)
        blocks: dict[int, Tensor] = {}
        stages = (visual.stem, visual.layer1, visual.layer2, visual.layer3, visual.layer4)
        for i, stage in enumerate(stages):
            x = stage(x)
            for key in wanted.get(i, ()):
                blocks[key] = x
        b, _, h, w = x.shape  # C5
        grid = (h, w)
        feats = x.flatten(2).transpose(1, 2)  # (B, h*w, C5)
        pool = visual.attnpool
        pos = self._pos_embed(pool.positional_embedding, grid)
        dense = self.last_block.forward_attnpool(pool, feats, pos)  # (B, h*w, D)
        dense = dense.transpose(1, 2).reshape(b, -1, h, w)
        cls = attnpool_global(pool, feats, pos)
        return DenseOutput(dense=dense, cls=cls, grid=grid, patch_grid=grid, blocks=blocks)

    def extra_repr(self) -> str:
        return (
            f'arch={self.arch}, last_block={self.last_block!r}, '
            f'pos_embed_interp={self.pos_embed_interp!r}, vanilla_cls={self.vanilla_cls}'
        )
