"""Attention arithmetic on open_clip blocks, shared by the last-block strategies and the encoder.

Everything here reads the block's own weights: q, k, v from ``attn.in_proj_weight`` applied to
LN1(x), the output branch through ``attn.out_proj`` and layer scale, the FFN through ``mlp`` and
LN2. Tensors are batch first; per-head tensors are (B, heads, N, head_dim). Matrix products go
through :func:`.packed_linear.linear` (``F.linear`` itself except in bfloat16 CPU inference).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.transformer import QuickGELU
from torch import Tensor, nn

from .packed_linear import linear, packed_mlp, quick_gelu_mlp


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
    qkv = linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
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
    o = linear(o, attn.out_proj.weight, attn.out_proj.bias)
    if hasattr(block, 'ln_attn'):
        o = block.ln_attn(o)
    return block.ls_1(o)


def fused_attention_ok(block: nn.Module) -> bool:
    """True if :func:`run_block` reproduces ``block.forward``: an open_clip
    ``ResidualAttentionBlock`` with a batch-first, packed ``nn.MultiheadAttention`` (no bias_k,
    no zero attention) and no hooks. Other blocks run their own ``forward``."""
    attn = getattr(block, 'attn', None)
    return (isinstance(attn, nn.MultiheadAttention) and attn.batch_first
            and attn._qkv_same_embed_dim and attn.bias_k is None and not attn.add_zero_attn
            and all(hasattr(block, name) for name in ('ln_1', 'ln_2', 'mlp', 'ls_1', 'ls_2'))
            and not hasattr(block, 'ln_1_kv') and not hasattr(block, 'ln_attn')
            and not (block._forward_hooks or block._forward_pre_hooks
                     or attn._forward_hooks or attn._forward_pre_hooks))


def use_fast_block(block: nn.Module, x: Tensor) -> bool:
    """Whether an unchanged block runs :func:`run_block` rather than its own ``forward``.

    bfloat16 tokens do (fused attention, packed weights); float32 keeps open_clip's block,
    whose ``nn.MultiheadAttention`` already runs PyTorch's fused inference kernel and whose
    rounding the float32 results (and the regression data) are pinned to.
    """
    return x.dtype == torch.bfloat16 and fused_attention_ok(block)


def run_mlp(mlp: nn.Module, x: Tensor) -> Tensor:
    """An open_clip block's MLP (c_fc, activation, c_proj) through :mod:`.packed_linear`
    (exact ``nn.GELU`` fused into c_fc, QuickGELU as a scaled swish); any other MLP runs its
    own ``forward``. Float32 gives the MLP's own result."""
    c_fc, act, c_proj = (getattr(mlp, name, None) for name in ('c_fc', 'gelu', 'c_proj'))
    if not (isinstance(c_fc, nn.Linear) and isinstance(c_proj, nn.Linear) and act is not None
            and len(mlp) == 3):
        return mlp(x)
    if type(act) is nn.GELU and act.approximate == 'none':
        out = packed_mlp(x, c_fc.weight, c_fc.bias, c_proj.weight, c_proj.bias)
        if out is not None:
            return out
        hidden = linear(x, c_fc.weight, c_fc.bias, activation='gelu')
    elif type(act) is QuickGELU:
        return quick_gelu_mlp(x, c_fc.weight, c_fc.bias, c_proj.weight, c_proj.bias)
    else:
        hidden = act(linear(x, c_fc.weight, c_fc.bias))
    return linear(hidden, c_proj.weight, c_proj.bias)


def run_block(block: nn.Module, x: Tensor, *, causal: bool = False,
              keep_ffn_input: bool = False) -> tuple[Tensor, Tensor | None]:
    """An open_clip ``ResidualAttentionBlock`` with fused attention and packed weights.

    The maths of the block's ``forward`` (x + ls_1(attention(LN1 x)), then + ls_2(FFN(LN2 .)))
    with q, k, v as views of one packed projection, one ``F.scaled_dot_product_attention``
    call instead of ``nn.MultiheadAttention``'s transposes and copies, and bfloat16 weights
    in oneDNN's layout (:mod:`.packed_linear`). Float32 outputs agree with the block's own to
    rounding (~1e-6). Only for blocks :func:`fused_attention_ok` accepts.

    Args:
        block: The block.
        x: (B, N, C) tokens, batch first.
        causal: Causal attention (a text tower); the block's ``attn_mask`` is not read.
        keep_ffn_input: Also return LN2 of the attention output, the FFN's input (B, N, C).

    Returns:
        (block output (B, N, C), FFN input or None).
    """
    if not fused_attention_ok(block):
        raise ValueError(f'{type(block).__name__} is not a plain open_clip ResidualAttentionBlock '
                         '(see fused_attention_ok); run its own forward')
    attn = block.attn
    b, n, c = x.shape
    heads = attn.num_heads
    qkv = linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4).unbind(0)
    dropout = attn.dropout if attn.training else 0.0
    o = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=causal)
    x = x + block.ls_1(linear(merge_heads(o), attn.out_proj.weight, attn.out_proj.bias))
    ffn_input = block.ln_2(x)
    return x + block.ls_2(run_mlp(block.mlp, ffn_input)), ffn_input if keep_ffn_input else None


def apply_ffn(block: nn.Module, x: Tensor) -> Tensor:
    """x + FFN(LN2(x)) with the block's own MLP and layer scale. (B, N, C) -> (B, N, C)."""
    return x + block.ls_2(run_mlp(block.mlp, block.ln_2(x)))


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
