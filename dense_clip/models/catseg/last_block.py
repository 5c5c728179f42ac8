"""CAT-Seg's dense last block: the value path plus the CLS token's residual.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024.
The released models run the last image block of their vendored CLIP through
``ResidualAttentionBlock.forward_dense`` (KU-CVLAB/CAT-Seg ``cat_seg/third_party/model_vpt.py``):
q, k and v of LN1(x) all go through the output projection and only v is kept, i.e. each token takes
its own value (no token mixing, as MaskCLIP); the residual added to it is the *CLS token's input*
``x[:1]``, broadcast to every token, not each token's own input; then the block's FFN with its own
residual: ``y = out_proj(v) + x_cls; y = y + MLP(LN2(y))``. ln_post and the projection follow for
every token. This strategy reproduces that so the authors' checkpoints give the authors' numbers.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from dense_clip.models.clip.last_block import LastBlockStrategy
from dense_clip.models.clip.ops import apply_ffn, project_out, project_qkv
from dense_clip.registry import LAST_BLOCKS

__all__ = ['CATSegDense']

Grid = tuple[int, int]


@LAST_BLOCKS.register_module()
class CATSegDense(LastBlockStrategy):
    """CAT-Seg's ``forward_dense``: out_proj(v) + x_cls, then + FFN(LN2(.)).

    ``keep_residual=False`` drops the CLS residual, ``keep_ffn=False`` the FFN (ablations).
    """

    def mix(self, q: Tensor, k: Tensor, v: Tensor, grid: Grid) -> Tensor:
        return v  # each token keeps its own value

    def __call__(self, block: nn.Module, x: Tensor, grid: Grid, context: Any = None) -> Tensor:
        """(B, 1 + h*w, C) tokens entering the last block -> tokens leaving it."""
        _, _, v = project_qkv(block, x)
        out = project_out(block, v)
        if self.keep_residual:
            out = out + x[:, :1]  # the CLS token's input, for every token
        if self.keep_ffn:
            out = apply_ffn(block, out)
        return out
