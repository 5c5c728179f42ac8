"""CAT-Seg's class aggregation: a transformer across classes at every (pooled) pixel.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024,
section 3.2. The attention is linear (Katharopoulos et al., "Transformers are RNNs", ICML 2020:
feature map elu(x) + 1), has no positional encoding, so it is equivariant to the order of the
classes. Details from the authors' code (KU-CVLAB/CAT-Seg
``cat_seg/modeling/transformer/model.py``: ``LinearAttention``, ``FullAttention``,
``AttentionLayer``, ``ClassTransformerLayer``):

* the cost embedding is average-pooled (``pooling_size``; the authors train with 2x2 and evaluate
  with 1x1, ``eval.sh``), attended across classes, passed through an MLP (ReLU, 4x wide) with
  pre-norm residuals, upsampled back (bilinear, ``align_corners=True``) and added to the input;
* queries and keys see the projected text embedding of each class concatenated to its cost
  feature, values the cost feature alone; there is no output projection;
* the class axis is padded to ``pad_len`` (256) with a learned token and a learned guidance before
  the attention, and the padding is dropped after it, so the attention always sees the same
  number of tokens (a vocabulary larger than ``pad_len`` is cut to its top classes before the
  aggregator; see ``aggregator.py``);
* linear attention divides the values by their count before the product and multiplies after
  (the authors' fp16 guard), with eps 1e-6 in the normaliser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['ATTENTIONS', 'ClassAggregation', 'full_attention', 'linear_attention']


def linear_attention(q: Tensor, k: Tensor, v: Tensor, eps: float = 1e-6) -> Tensor:
    """Multi-head linear attention with the elu(x) + 1 feature map.

    Args:
        q: (N, L, heads, d) queries.
        k: (N, S, heads, d) keys.
        v: (N, S, heads, dv) values.
        eps: added to the normaliser.

    Returns:
        (N, L, heads, dv): for each query, Σ_s φ(q)·φ(k_s) v_s / (Σ_s φ(q)·φ(k_s) + eps).
    """
    q, k = F.elu(q) + 1, F.elu(k) + 1
    length = v.shape[1]
    kv = torch.einsum('nshd,nshv->nhdv', k, v / length)
    norm = 1.0 / (torch.einsum('nlhd,nhd->nlh', q, k.sum(dim=1)) + eps)
    return torch.einsum('nlhd,nhdv,nlh->nlhv', q, kv, norm) * length


def full_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Multi-head softmax attention, same layout as :func:`linear_attention` (scale d ** -0.5)."""
    weights = torch.einsum('nlhd,nshd->nlsh', q, k).mul(q.shape[-1] ** -0.5).softmax(dim=2)
    return torch.einsum('nlsh,nshd->nlhd', weights, v)


#: Attention kinds of the class aggregation (the authors' ``ATTENTION_TYPE``).
ATTENTIONS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    'linear': linear_attention,
    'full': full_attention,
}


class ClassAggregation(nn.Module):
    """Attention across classes of the pooled cost embedding, guided by text.

    Args:
        dim: channels C of the cost embedding.
        guidance_dim: channels G of the projected text guidance (0: none).
        num_heads: attention heads (C must divide by it).
        pooling_size: average-pooling window (h, w) before the attention; (1, 1) or None: none.
        pad_len: the class axis is padded to this length with a learned token (0: no padding).
        attention: 'linear' or 'full'.
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int,
                 pooling_size: Sequence[int] | None = (2, 2), pad_len: int = 256,
                 attention: str = 'linear') -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f'unknown attention {attention!r}; valid: {sorted(ATTENTIONS)}')
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.pooling_size = tuple(pooling_size) if pooling_size is not None else (1, 1)
        self.attention = attention
        self.pad_len = int(pad_len)
        self.q = nn.Linear(dim + guidance_dim, dim)
        self.k = nn.Linear(dim + guidance_dim, dim)
        self.v = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.ReLU(), nn.Linear(dim * 4, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.padding_tokens = nn.Parameter(torch.zeros(1, 1, dim)) if pad_len > 0 else None
        self.padding_guidance = (nn.Parameter(torch.zeros(1, 1, guidance_dim))
                                 if pad_len > 0 and guidance_dim > 0 else None)

    def _attend(self, x: Tensor, guidance: Tensor | None) -> Tensor:
        """(N, T, C) tokens (and (N, T, G) guidance) -> (N, T, C) attended values."""
        qk_input = x if guidance is None else torch.cat([x, guidance], dim=-1)
        n, t, _ = x.shape

        def heads(y: Tensor) -> Tensor:
            return y.reshape(n, t, self.num_heads, -1)

        out = ATTENTIONS[self.attention](heads(self.q(qk_input)), heads(self.k(qk_input)),
                                         heads(self.v(x)))
        return out.reshape(n, t, -1)

    def forward(self, x: Tensor, guidance: Tensor | None,
                pooling_size: Sequence[int] | None = None) -> Tensor:
        """Aggregates across classes.

        Args:
            x: (B, C, T, H, W) cost embeddings of T classes.
            guidance: (B, T, G) projected text embeddings, or None.
            pooling_size: overrides the pooling window for this call (the authors evaluate with
                (1, 1)); None keeps the module's.

        Returns:
            (B, C, T, H, W).
        """
        b, c, t, h, w = x.shape
        pool = tuple(pooling_size) if pooling_size is not None else self.pooling_size
        y = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        if pool != (1, 1):
            y = F.avg_pool2d(y, pool)
        hp, wp = y.shape[-2:]
        y = y.reshape(b, t, c, hp, wp).permute(0, 3, 4, 1, 2).reshape(b * hp * wp, t, c)
        padded = t
        if self.padding_tokens is not None and t < self.pad_len:
            padded = self.pad_len
            y = torch.cat([y, self.padding_tokens.expand(y.shape[0], padded - t, c)], dim=1)
            if guidance is not None and self.padding_guidance is not None:
                pad = self.padding_guidance.expand(b, padded - t, -1)
                guidance = torch.cat([guidance, pad], dim=1)
        if guidance is not None:
            guidance = guidance.repeat_interleave(hp * wp, dim=0)  # (B*hp*wp, T', G)
        y = y + self._attend(self.norm1(y), guidance)
        y = y + self.mlp(self.norm2(y))
        y = y.reshape(b, hp, wp, padded, c).permute(0, 3, 4, 1, 2).reshape(b * padded, c, hp, wp)
        y = F.interpolate(y, size=(h, w), mode='bilinear', align_corners=True)
        y = y.reshape(b, padded, c, h, w)[:, :t].permute(0, 2, 1, 3, 4)
        return x + y
