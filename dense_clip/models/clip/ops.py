"""Attention arithmetic on open_clip blocks, shared by the last-block strategies and the encoder.

Everything here reads the block's own weights: q, k, v from ``attn.in_proj_weight`` applied to
LN1(x), the output branch through ``attn.out_proj`` and layer scale, the FFN through ``mlp`` and
LN2. Tensors are batch first; per-head tensors are (B, heads, N, head_dim).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_attention(attn: nn.Module) -> None:
    """Rejects attention layers whose maths these helpers do not reproduce."""
    if getattr(attn, 'in_proj_weight', None) is None:
        raise NotImplementedError('last-block strategies need a packed in_proj_weight (q, k, v)')
    if getattr(attn, 'bias_k', None) is not None or getattr(attn, 'add_zero_attn', False):
        raise NotImplementedError('attention with bias_k/bias_v or add_zero_attn is not supported')
    if getattr(attn, 'logit_scale', None) is not None:
        raise NotImplementedError('scaled-cosine attention (open_clip Attention) is not supported')


def split_heads(t: Tensor, heads: int) -> Tensor:
    """(B, N, C) -> (B, heads, N, C // heads)."""
    b, n, c = t.shape
    return t.reshape(b, n, heads, c // heads).transpose(1, 2)


def merge_heads(t: Tensor) -> Tensor:
    """(B, heads, N, d) -> (B, N, heads * d)."""
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def softmax_f32(logits: Tensor) -> Tensor:
    """Softmax over the last axis, computed in float32 and cast back (bf16-safe)."""
    return logits.float().softmax(dim=-1).to(logits.dtype)


def project_qkv(block: nn.Module, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The block's q, k, v of LN1(x), split per head.

    Args:
        block: an open_clip ``ResidualAttentionBlock`` (nn.MultiheadAttention ``attn``) or
            ``CustomResidualAttentionBlock`` (open_clip ``Attention``; qk-norm honoured).
        x: (B, N, C) tokens entering the block, batch first.

    Returns:
        q, k, v, each (B, heads, N, C // heads), unscaled.
    """
    attn = block.attn
    _check_attention(attn)
    qkv = F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = (split_heads(t, attn.num_heads) for t in qkv.chunk(3, dim=-1))
    if hasattr(attn, 'ln_q'):  # open_clip Attention: identity unless qk_norm
        q, k = attn.ln_q(q), attn.ln_k(k)
    return q, k, v


def project_out(block: nn.Module, o: Tensor) -> Tensor:
    """The block's attention output branch from per-head mixed values.

    Args:
        block: the block whose ``attn.out_proj`` (and layer scale ``ls_1``) is applied.
        o: (B, heads, N, d) attention-weighted values.

    Returns:
        (B, N, C) the attention branch, before any residual.
    """
    attn = block.attn
    if getattr(attn, 'head_scale', None) is not None:
        o = o * attn.head_scale
    o = merge_heads(o)
    if hasattr(attn, 'ln_inner'):
        o = attn.ln_inner(o)
    o = attn.out_proj(o)
    if hasattr(block, 'ln_attn'):
        o = block.ln_attn(o)
    return block.ls_1(o)


def apply_ffn(block: nn.Module, x: Tensor) -> Tensor:
    """x + FFN(LN2(x)) with the block's own MLP and layer scale. (B, N, C) -> (B, N, C)."""
    return x + block.ls_2(block.mlp(block.ln_2(x)))


def vanilla_cls_token(block: nn.Module, x: Tensor) -> Tensor:
    """The unchanged block's output for the CLS token only (one query row; cheap).

    Args:
        block: the last ViT block.
        x: (B, N, C) tokens entering it, CLS first.

    Returns:
        (B, 1, C) what ``block(x)[:, :1]`` would be.
    """
    q, k, v = project_qkv(block, x)
    q = q[:, :, :1]
    weights = softmax_f32(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5)
    cls = x[:, :1] + project_out(block, weights @ v)
    return apply_ffn(block, cls)


def attnpool_qkv(pool: nn.Module, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v of an open_clip ``AttentionPool2d``: (B, N, C) -> 3 x (B, heads, N, d)."""
    heads = pool.num_heads
    return tuple(
        split_heads(proj(tokens), heads) for proj in (pool.q_proj, pool.k_proj, pool.v_proj)
    )


def attnpool_global(pool: nn.Module, feats: Tensor, pos: Tensor) -> Tensor:
    """CLIP ResNet's global embedding: attention pooling queried by the mean token.

    Args:
        pool: open_clip ``AttentionPool2d``.
        feats: (B, h*w, C5) flattened C5 features.
        pos: (h*w + 1, C5) positional embedding for this grid (mean token first).

    Returns:
        (B, D) the image embedding (equals ``visual(images)`` at the training grid).
    """
    tokens = torch.cat([feats.mean(dim=1, keepdim=True), feats], dim=1) + pos.to(feats.dtype)
    q, k, v = attnpool_qkv(pool, tokens)
    q = q[:, :, :1]
    weights = softmax_f32(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5)
    return pool.c_proj(merge_heads(weights @ v))[:, 0]
