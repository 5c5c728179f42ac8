"""Runs an open_clip text tower only as far as each prompt needs: up to its end-of-text token.

CLIP's text transformer (Radford et al., "Learning Transferable Visual Models From Natural
Language Supervision", ICML 2021, Sec. 2.4) is causal and takes the prompt's embedding at the
end-of-text (EOT) token: with the causal mask, no token attends to a later one, so the padding
after a prompt's EOT never reaches the EOT's output. A prompt like "a photo of a cat." is ~8
tokens of a 77-token context; running the tower on the first ``max(EOT) + 1`` tokens of a batch
gives the same embeddings (masked-out keys weigh exactly 0; only the blocking of the matrix
products changes, so values agree to float rounding) for a fraction of the work.

Which towers qualify is read from open_clip's own attributes (``open_clip/model.py``
``CLIP.encode_text`` and ``open_clip/transformer.py`` ``TextTransformer``): the tower must hold a
causal ``attn_mask`` (bidirectional towers, e.g. SigLIP's ``no_causal_mask``, do not), pool at a
token position ('argmax' = OpenAI's EOT rule, 'eos', 'first'; not 'last', which is the padding
end), and have no appended class token (CoCa's ``embed_cls``). Hugging Face text towers
(``HFTextEncoder``), subclasses that override ``encode_text`` and anything else run at full
length, which :func:`text_encoder_for` logs once per kind of model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from mmengine.logging import print_log
from open_clip.model import CLIP, CustomTextCLIP
from open_clip.transformer import TextTransformer
from torch import Tensor, nn

from dense_clip.models.clip.ops import run_block, use_fast_block
from dense_clip.models.clip.packed_linear import forget_packed

__all__ = ['TextEncoder', 'eot_positions', 'text_encoder_for']

# Pool types whose pooled token is a fixed position of the prompt (open_clip text_global_pool).
_POSITION_POOLS = ('argmax', 'eos', 'first')
_logged: set[tuple[str, str]] = set()
# Batches run to their last EOT rounded up to a multiple of this: the masked tail then leaves
# the attention kernels' reductions (16-wide float32 vectors) in the same order as at the full
# length, and the float32 embeddings come out bit-identical on the CPUs measured.
_LENGTH_MULTIPLE = 16


@dataclass
class _TextParts:
    """The modules of an open_clip causal text tower, wherever the model keeps them."""

    token_embedding: nn.Embedding
    positional_embedding: Tensor
    transformer: nn.Module
    ln_final: nn.Module
    text_projection: Tensor | nn.Linear | None
    pool_type: str
    eos_id: int | None
    attn_mask: Tensor


def _is_causal(mask: Tensor | None, length: int) -> bool:
    """True if ``mask`` is the (L, L) additive causal mask: -inf above the diagonal, 0 elsewhere."""
    if mask is None or mask.dim() != 2 or tuple(mask.shape) != (length, length):
        return False
    upper = torch.ones(length, length, dtype=torch.bool, device=mask.device).triu(1)
    return bool(torch.equal(torch.isneginf(mask), upper) and (mask[~upper] == 0).all())


def _own_method(model: Any, name: str, cls: type) -> bool:
    """True if ``model.<name>`` is ``cls``'s own method (not overridden or patched)."""
    return getattr(getattr(model, name, None), '__func__', None) is getattr(cls, name)


def _parts(model: Any) -> _TextParts | str:
    """The tower's modules, or the reason why the EOT shortcut does not apply to it."""
    if isinstance(model, CLIP):
        if not _own_method(model, 'encode_text', CLIP):
            return f'{type(model).__name__} overrides encode_text'
        parts = _TextParts(model.token_embedding, model.positional_embedding, model.transformer,
                           model.ln_final, model.text_projection, model.text_pool_type,
                           getattr(model, 'text_eos_id', None), model.attn_mask)
    elif isinstance(model, CustomTextCLIP):
        text = model.text
        if not _own_method(model, 'encode_text', CustomTextCLIP):
            return f'{type(model).__name__} overrides encode_text'
        if not isinstance(text, TextTransformer) or type(text).forward is not \
                TextTransformer.forward:
            return f'its text tower is a {type(text).__name__}, not an open_clip TextTransformer'
        if text.cls_emb is not None:
            return 'its text tower appends a class token (CoCa) that attends to every position'
        if text.output_tokens:
            return 'its text tower returns tokens as well'
        parts = _TextParts(text.token_embedding, text.positional_embedding, text.transformer,
                           text.ln_final, text.text_projection, text.pool_type, text.eos_id,
                           text.attn_mask)
    else:
        return f'{type(model).__name__} is not an open_clip CLIP or CustomTextCLIP'
    if parts.pool_type not in _POSITION_POOLS:
        return f"its text pooling {parts.pool_type!r} is not at the prompt's end-of-text token"
    if not _is_causal(parts.attn_mask, parts.positional_embedding.shape[0]):
        return 'its text attention is not causal (every token sees the padding)'
    return parts


def eot_positions(tokens: Tensor, pool_type: str, eos_id: int | None = None) -> Tensor:
    """The position each prompt is pooled at, by open_clip's ``text_global_pool`` rules.

    Args:
        tokens: (N, L) int64 token ids.
        pool_type: 'argmax' (OpenAI CLIP: the highest id, the EOT token), 'eos' (the first
            ``eos_id``) or 'first'.
        eos_id: The end-of-text id for 'eos'.

    Returns:
        (N,) int64 positions in [0, L).
    """
    if pool_type == 'argmax':
        return tokens.argmax(dim=-1)
    if pool_type == 'eos':
        if eos_id is None:
            raise ValueError("pool_type 'eos' needs eos_id")
        return (tokens == eos_id).int().argmax(dim=-1)
    if pool_type == 'first':
        return torch.zeros(tokens.shape[0], dtype=torch.long, device=tokens.device)
    raise ValueError(f'pool_type must be one of {_POSITION_POOLS}, got {pool_type!r}')


class TextEncoder:
    """Encodes token batches with a model's text tower, trimmed to the EOT when that is exact.

    Build it with :func:`text_encoder_for`.

    Attributes:
        model: The model whose text tower runs.
        trimmed: True if batches run only up to their last EOT (the shortcut applies).
        reason: Why the shortcut does not apply ('' when it does).
    """

    def __init__(self, model: Any, parts: _TextParts | None, reason: str = '') -> None:
        self.model = model
        self._parts = parts
        self.trimmed = parts is not None
        self.reason = reason

    def positions(self, tokens: Tensor) -> Tensor:
        """(N,) the pooled position of each prompt; the last position without the shortcut."""
        if self._parts is None:
            return torch.full((tokens.shape[0],), tokens.shape[-1] - 1, dtype=torch.long)
        return eot_positions(tokens, self._parts.pool_type, self._parts.eos_id)

    def __call__(self, tokens: Tensor) -> Tensor:
        """(N, L) int64 tokens on the model's device -> (N, D) embeddings (not normalised)."""
        if self._parts is None:
            return self.model.encode_text(tokens)
        return self._encode_trimmed(tokens)

    def release(self) -> None:
        """Drops the bfloat16 packed copies of the text tower's weights (encoding is done once
        per vocabulary; the image tower keeps its own)."""
        if self._parts is not None:
            forget_packed(self._parts.transformer.parameters())

    def _encode_trimmed(self, tokens: Tensor) -> Tensor:
        """``model.encode_text(tokens)`` computed on the first max(EOT) + 1 tokens only
        (rounded up to a multiple of 16)."""
        parts = self._parts
        positions = eot_positions(tokens, parts.pool_type, parts.eos_id)
        length = min(-(-(int(positions.max()) + 1) // _LENGTH_MULTIPLE) * _LENGTH_MULTIPLE,
                     tokens.shape[1])
        text = tokens[:, :length]
        cast_dtype = parts.transformer.get_cast_dtype()
        x = parts.token_embedding(text).to(cast_dtype)
        x = x + parts.positional_embedding[:length].to(cast_dtype)
        x = _run_causal(parts.transformer, x, parts.attn_mask[:length, :length])
        x = parts.ln_final(x)
        x = x[torch.arange(x.shape[0], device=x.device), positions]
        projection = parts.text_projection
        if isinstance(projection, nn.Linear):
            return projection(x)
        return x if projection is None else x @ projection


def _run_causal(transformer: nn.Module, x: Tensor, mask: Tensor) -> Tensor:
    """The tower's blocks over (B, L, C) tokens with causal attention: the tower's own forward
    with the mask cut to L (float32), or :func:`run_block` with ``is_causal`` where
    :func:`use_fast_block` says so (bfloat16)."""
    blocks = getattr(transformer, 'resblocks', None)
    if (blocks is None or not getattr(transformer, 'batch_first', False)
            or not all(use_fast_block(block, x) for block in blocks)):
        return transformer(x, attn_mask=mask)
    for block in blocks:
        x = run_block(block, x, causal=True)[0]
    return x


def text_encoder_for(model: Any, log: Callable[[str], None] | None = None) -> TextEncoder:
    """A :class:`TextEncoder` for ``model``, with the EOT shortcut where it is exact.

    Args:
        model: Anything with ``encode_text``; open_clip ``CLIP`` and ``CustomTextCLIP`` models
            with a causal, EOT-pooled tower get the shortcut.
        log: Called with the fallback message (default: mmengine's current logger, INFO); each
            kind of model and reason is logged once per process.
    """
    found = _parts(model)
    if isinstance(found, _TextParts):
        return TextEncoder(model, found)
    key = (type(model).__qualname__, found)
    if key not in _logged:
        _logged.add(key)
        message = (f'text encoding runs every prompt at the full context length: {found}, so '
                   'the end-of-text shortcut would not be exact')
        if log is None:
            print_log(message, logger='current', level=logging.INFO)
        else:
            log(message)
    return TextEncoder(model, None, found)
