"""The dense-pass contract: what a consumer asks of one image-tower pass, and what it gets.

:class:`DenseRequest` is declared by every consumer of dense CLIP features (a last-block strategy,
a segmentation head, a post-step, a detector's region encoder); :class:`DenseOutput` is the single
result of ``CLIPDenseEncoder.forward`` that they all read. Kept apart from the encoder so that
strategies and heads can import the contract without importing the encoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from torch import Tensor

__all__ = ['DenseOutput', 'DenseRequest']


@dataclass(frozen=True)
class DenseRequest:
    """What a consumer needs from a dense pass besides the dense map and the image embedding.

    Block indices are Python style (negatives count from the end: -1 is the last block). For a
    ResNet tower the "blocks" are its stages (stem, layer1, ..., layer4) and only ``blocks`` is
    meaningful. Requests combine with ``|`` (union), so a segmentor merges its head's, its
    post-steps' and its strategy's requests into one pass.

    Attributes:
        blocks: outputs of these blocks. ViT: (B, 1 + h*w, C) tokens, CLS first (the last
            block's entry is the strategy's output); ResNet: stage maps (B, C_i, H_i, W_i).
        block_inputs: ViT: tokens (B, 1 + h*w, C) entering these blocks (after ln_pre for 0).
        ffn_inputs: ViT: LN2(x + attention branch) inside these blocks, the input of their FFN,
            (B, 1 + h*w, C) (CLIP-DINOiser's head input). For the last block it is the unchanged
            block's FFN input, whatever the strategy.
        last_qkv: ViT: per-head q, k, v of the last block's LN1 input, each (B, heads, N, d).
    """

    blocks: tuple[int, ...] = ()
    block_inputs: tuple[int, ...] = ()
    ffn_inputs: tuple[int, ...] = ()
    last_qkv: bool = False

    def __or__(self, other: DenseRequest) -> DenseRequest:
        if not isinstance(other, DenseRequest):
            return NotImplemented

        def union(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(dict.fromkeys(a + b))

        return DenseRequest(
            blocks=union(self.blocks, other.blocks),
            block_inputs=union(self.block_inputs, other.block_inputs),
            ffn_inputs=union(self.ffn_inputs, other.ffn_inputs),
            last_qkv=self.last_qkv or other.last_qkv,
        )

    @staticmethod
    def combine(requests: Iterable[DenseRequest | None]) -> DenseRequest:
        """The union of several requests (None entries are skipped)."""
        merged = DenseRequest()
        for request in requests:
            if request is not None:
                merged = merged | request
        return merged


@dataclass
class DenseOutput:
    """What ``CLIPDenseEncoder.forward`` returns: one pass, every requested side output.

    Attributes:
        dense: (B, D, h, w) patch features in the joint image-text space (after ln_post and proj
            for a ViT, even where open_clip applies ln_post only after pooling; after the
            attention-pool projections for a ResNet). NOT L2-normalised.
        cls: (B, D) global image embedding, or None for towers without one (pool_type 'none').
        grid: (h, w) grid of ``dense``: the patch grid actually used, or the grid the last-block
            strategy outputs (``output_grid``; ProxyCLIP: the proxy model's grid).
        patch_grid: (h, w) the tower's own patch grid for this input (equals ``grid`` except for
            strategies with another output grid).
        blocks: requested block outputs keyed by the index as requested (-3 = third from last).
        block_inputs: requested block inputs, keyed likewise.
        ffn_inputs: requested FFN inputs (LN2 outputs), keyed likewise.
        qkv: the last block's per-head (q, k, v) when requested, else None.
        extras: the strategy's side outputs, e.g. CLIPtrase's 'self_correlation' (B, h*w, h*w).
    """

    dense: Tensor
    cls: Tensor | None
    grid: tuple[int, int]
    patch_grid: tuple[int, int] = (0, 0)
    blocks: dict[int, Tensor] = field(default_factory=dict)
    block_inputs: dict[int, Tensor] = field(default_factory=dict)
    ffn_inputs: dict[int, Tensor] = field(default_factory=dict)
    qkv: tuple[Tensor, Tensor, Tensor] | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)
