"""Linear layers in the weight layout the CPU's bfloat16 kernels want.

``F.linear`` on bfloat16 CPU tensors hands oneDNN a plain row-major weight, which it reorders into
its blocked (AMX / AVX-512-BF16) layout on every call, and adds the bias through a separate
broadcast copy of the output. Inference with frozen weights can pack each weight once
(``torch.ops.mkldnn._reorder_linear_weight``) and call oneDNN's linear with the bias and, for
``nn.GELU``, the activation fused into the matrix product (``torch.ops.mkldnn._linear_pointwise``,
the kernels PyTorch's own inductor uses for frozen CPU graphs); OpenAI's QuickGELU is fused as a
scaled swish (:func:`quick_gelu_mlp`). Measured on this project's machines (Sapphire Rapids, one
thread): a ViT-B/16 MLP of 4 windows with QuickGELU takes 13 ms instead of 26-35 ms.

Only bfloat16 CPU inference takes this path (no autograd through packed weights); float32 and
everything else run ``F.linear`` unchanged, so the float32 default stays bit-exact. Packed
weights are cached per weight tensor and re-packed when the tensor changes in place.

The packed copies cost memory: as much again as the bfloat16 weights of the blocks that use
them (170 MB for ViT-B/16's image tower). ``DENSE_CLIP_PACKED_WEIGHTS=0`` in the environment
turns packing off (bfloat16 then runs ``F.linear``: less memory, slower).
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['MLP_CHUNK_ROWS', 'PACK_HINT_ROWS', 'QUICK_GELU_ALPHA', 'forget_packed', 'linear',
           'packed_linear_available', 'packed_mlp', 'quick_gelu_mlp']

# (id(weight tensor), scale) -> ((data_ptr, version, shape), packed weight); dropped with the
# tensor
_PACKED: dict[tuple[int, float], tuple[tuple, Tensor]] = {}
# QuickGELU(h) = h * sigmoid(1.702 h) (OpenAI CLIP's activation)
QUICK_GELU_ALPHA = 1.702
_ACTIVATIONS = {None: ('none', ''), 'gelu': ('gelu', 'none')}


@functools.lru_cache(maxsize=1)
def packed_linear_available() -> bool:
    """True if this torch build has oneDNN's packed bfloat16 linear, the CPU runs it and
    ``DENSE_CLIP_PACKED_WEIGHTS`` is not ``0`` (read once per process)."""
    setting = os.environ.get('DENSE_CLIP_PACKED_WEIGHTS', '1').strip().lower()
    if setting not in ('0', '1', 'false', 'true', 'no', 'yes', 'off', 'on'):
        raise ValueError(f'DENSE_CLIP_PACKED_WEIGHTS must be 0 or 1, got {setting!r}')
    if setting in ('0', 'false', 'no', 'off'):
        return False
    ops = torch.ops.mkldnn
    if not (torch.backends.mkldnn.is_available() and hasattr(ops, '_reorder_linear_weight')
            and hasattr(ops, '_linear_pointwise')):
        return False
    checker = getattr(ops, '_is_mkldnn_bf16_supported', None)
    return bool(checker()) if checker is not None else False


# oneDNN's batch-size hint for the packed layout, the same for every call, so that a weight's
# layout (and results) do not depend on the rows of the call that packed it first. Measured on
# this project's machines (ViT-B/16 and text-tower shapes): hints from 2 to 20,000 gave the
# same results bit for bit and the same speed at 788 rows; a hint of 1 gave other roundings and
# 20% slower products at 788 rows, and was no faster at one row.
PACK_HINT_ROWS = 400


def _packed(weight: Tensor, scale: float = 1.0) -> Tensor:
    """``weight`` (times ``scale``, rounded once to bfloat16) in oneDNN's layout, cached."""
    key = (id(weight), scale)
    stamp = (weight.data_ptr(), weight._version, tuple(weight.shape))
    hit = _PACKED.get(key)
    if hit is None:
        weakref.finalize(weight, _PACKED.pop, key, None)
    if hit is None or hit[0] != stamp:
        source = weight.detach()
        if scale != 1.0:
            source = (source.float() * scale).to(weight.dtype)
        hit = (stamp, torch.ops.mkldnn._reorder_linear_weight(source, PACK_HINT_ROWS))
        _PACKED[key] = hit
    return hit[1]


def forget_packed(weights: Iterable[Tensor]) -> int:
    """Drops the packed copies of ``weights`` (e.g. a text tower's, once its classes are
    encoded); they are packed again if used again. Returns how many copies were dropped."""
    ids = {id(w) for w in weights}
    stale = [key for key in _PACKED if key[0] in ids]
    for key in stale:
        del _PACKED[key]
    return len(stale)


def _use_packed(x: Tensor, weight: Tensor) -> bool:
    if x.dtype != torch.bfloat16 or weight.dtype != torch.bfloat16 or x.device.type != 'cpu':
        return False
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        return False
    return packed_linear_available()


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """``activation(F.linear(x, weight, bias))``, packed and fused for bfloat16 CPU inference.

    Args:
        x: (..., K) input.
        weight: (N, K) weight.
        bias: (N,) bias or None.
        activation: None or 'gelu' (exact erf GELU, ``nn.GELU()``).

    Returns:
        (..., N) output, dtype of ``x``.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f'activation must be one of {list(_ACTIVATIONS)}, got {activation!r}')
    if not _use_packed(x, weight):
        out = F.linear(x, weight, bias)
        return F.gelu(out) if activation == 'gelu' else out
    attr, algorithm = _ACTIVATIONS[activation]
    packed = _packed(weight)
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), packed, bias, attr, [], algorithm)


def quick_gelu_mlp(x: Tensor, fc_weight: Tensor, fc_bias: Tensor | None, proj_weight: Tensor,
                   proj_bias: Tensor | None) -> Tensor:
    """``proj(QuickGELU(fc(x)))``, OpenAI CLIP's MLP, fused for bfloat16 CPU inference.

    oneDNN fuses swish, z * sigmoid(z), into a matrix product. With a = 1.702,
    QuickGELU(h) = swish(a h) / a, so the packed path runs fc with weights and bias times a and
    the swish fused, then proj with weights divided by a (each scaled weight rounded once to
    bfloat16). Other inputs run the three operations as they are.

    Args:
        x: (..., C) input.
        fc_weight, fc_bias: (H, C), (H,) the first projection.
        proj_weight, proj_bias: (C', H), (C',) the second projection.

    Returns:
        (..., C') output, dtype of ``x``.
    """
    if not (_use_packed(x, fc_weight) and _use_packed(x, proj_weight)):
        hidden = F.linear(x, fc_weight, fc_bias)
        hidden = hidden * torch.sigmoid(QUICK_GELU_ALPHA * hidden)
        return F.linear(hidden, proj_weight, proj_bias)
    bias = None if fc_bias is None else (fc_bias.float() * QUICK_GELU_ALPHA).to(fc_bias.dtype)
    return _fused_mlp(x, fc_weight, bias, ('swish', ''), proj_weight, proj_bias,
                      QUICK_GELU_ALPHA)


# Rows of an MLP's input run through both projections together, this many at most: their
# hidden activations (rows x 3072 bfloat16 for ViT-B) then stay in the core's L2 cache between
# the two products. Measured on this project's machines (Sapphire Rapids, one thread, twelve
# ViT-B/16 MLPs of 4 windows, weights not in cache): 102 ms in chunks of 394 rows against 127 ms
# for all 788 rows at once; 256-row chunks 107 ms, 128-row chunks 109 ms.
MLP_CHUNK_ROWS = 400


def _by_row_chunks(x: Tensor, mlp) -> Tensor:
    """``mlp`` applied to the rows of ``x`` (..., C) in equal chunks of at most
    :data:`MLP_CHUNK_ROWS` rows; rows are independent, so the result is the same operations."""
    flat = x.reshape(-1, x.shape[-1])
    rows = flat.shape[0]
    chunks = -(-rows // MLP_CHUNK_ROWS)
    if chunks <= 1:
        out = mlp(flat.contiguous())
    else:
        step = -(-rows // chunks)
        out = torch.cat([mlp(flat[i:i + step].contiguous()) for i in range(0, rows, step)])
    return out.view(*x.shape[:-1], out.shape[-1])


def packed_mlp(x: Tensor, fc_weight: Tensor, fc_bias: Tensor | None, proj_weight: Tensor,
               proj_bias: Tensor | None) -> Tensor | None:
    """``proj(GELU(fc(x)))`` with exact ``nn.GELU`` fused into fc, in row chunks (see
    :data:`MLP_CHUNK_ROWS`), for bfloat16 CPU inference; None where that path does not apply
    (the caller runs its own MLP)."""
    if not (_use_packed(x, fc_weight) and _use_packed(x, proj_weight)):
        return None
    return _fused_mlp(x, fc_weight, fc_bias, _ACTIVATIONS['gelu'], proj_weight, proj_bias)


def _fused_mlp(x: Tensor, fc_weight: Tensor, fc_bias: Tensor | None,
               activation: tuple[str, str], proj_weight: Tensor, proj_bias: Tensor | None,
               scale: float = 1.0) -> Tensor:
    """proj(act(fc(x))) with packed weights (fc's times ``scale``, proj's divided by it) and
    oneDNN's ``activation`` (attr, algorithm) fused into fc, in row chunks."""
    fc = _packed(fc_weight, scale)
    proj = _packed(proj_weight, 1 / scale)
    attr, algorithm = activation
    return _by_row_chunks(x, lambda part: torch.ops.mkldnn._linear_pointwise(
        torch.ops.mkldnn._linear_pointwise(part, fc, fc_bias, attr, [], algorithm),
        proj, proj_bias, 'none', [], ''))
