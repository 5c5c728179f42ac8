"""The zero-shot text classifier: class names and templates through a CLIP text tower.

The recipe is CLIP's zero-shot one (OpenAI CLIP, ``Prompt_Engineering_for_ImageNet.ipynb``),
used unchanged by MaskCLIP, SCLIP, NACLIP, ClearCLIP and ProxyCLIP: every template is filled
with a name, each prompt embedding is L2-normalised, the embeddings of one name are averaged
over the templates and the mean is L2-normalised again. A class with several synonyms keeps one
row per synonym; its score is the maximum over them (:func:`reduce_synonyms`), as in SCLIP and
NACLIP (``get_cls_idx`` and ``postprocess_result``). CAT-Seg instead averages the normalised
synonym embeddings of a class (``class_embeddings`` in its ``cat_seg_predictor.py``), which is
:func:`merge_synonyms`.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from dense_clip.utils.progress import Progress

from .templates import get_templates
from .text_tower import text_encoder_for
from .vocabulary import Vocabulary, build_vocabulary

__all__ = [
    'build_text_classifier', 'merge_synonyms', 'model_device', 'reduce_synonyms'
]

Tokenizer = Callable[..., torch.Tensor]
# Encodings shorter than this stay silent; longer ones report prompts/s and time left.
_PROGRESS_DELAY_S = 2.0


def model_device(model: Any) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    parameters = getattr(model, 'parameters', None)
    if callable(parameters):
        for parameter in parameters():
            return parameter.device
    return torch.device('cpu')


def _tokenize(tokenizer: Tokenizer, prompts: list[str], context_length: int | None) -> torch.Tensor:
    """Tokenizes with the model's context length when the tokenizer accepts one."""
    try:
        accepts_length = 'context_length' in inspect.signature(tokenizer).parameters
    except (TypeError, ValueError):
        accepts_length = False
    if context_length is not None and accepts_length:
        return tokenizer(prompts, context_length=context_length)
    return tokenizer(prompts)


def _truncated_prompts(tokenizer: Tokenizer, prompts: list[str],
                       tokens: torch.Tensor) -> tuple[list[int], bool]:
    """Finds the prompts that did not fit the context.

    A prompt can only have been cut if its token row is full (last position not padding). For
    open_clip's BPE tokenizer the full rows are checked exactly by counting BPE tokens plus the
    start and end tokens; other tokenizers report every full row (``exact`` is then False).

    Returns:
        (indices of the cut prompts, whether the check was exact).
    """
    full = torch.nonzero(tokens[:, -1] != 0).flatten().tolist()
    encode = getattr(tokenizer, 'encode', None)
    if not full or not callable(encode) or not hasattr(tokenizer, 'sot_token_id'):
        return full, False
    length = tokens.shape[-1]
    return [i for i in full if len(encode(prompts[i])) + 2 > length], True


@torch.no_grad()
def build_text_classifier(model: Any, tokenizer: Tokenizer,
                          vocabulary: Vocabulary | Sequence[str | Sequence[str]],
                          templates: str | Sequence[str], *, batch_size: int = 256,
                          average_templates: bool = True) -> torch.Tensor:
    """Embeds every synonym of a vocabulary with a prompt ensemble.

    A pure function of its inputs: the model is neither moved nor switched to eval mode (put
    it in eval mode first if its text tower has dropout). Prompts are encoded in order of
    length, each batch only up to its last end-of-text token where that is exact for the
    model's text tower (causal, pooled at the EOT: see :mod:`.text_tower`); the embeddings
    equal the full-length ones to float rounding. A bfloat16 model encodes in bfloat16.

    Args:
        model: Anything with ``encode_text(tokens (N, L) int64) -> (N, D)``, e.g. an
            ``open_clip.CLIP``. Its ``context_length`` attribute, when present, is passed to
            the tokenizer.
        tokenizer: ``tokenizer(list[str]) -> (N, L) int64``, e.g.
            ``open_clip.get_tokenizer('ViT-B-16')``.
        vocabulary: anything :func:`build_vocabulary` accepts.
        templates: A template set name or templates with one ``{}`` (see :func:`get_templates`).
        batch_size: Prompts per text-tower call.
        average_templates: If False, keep one normalised embedding per template (CAT-Seg's
            cost volume keeps the template axis).

    Returns:
        float32 tensor on the model's device, L2-normalised along the last axis: shape
        (num_synonyms, D), rows in ``vocabulary.synonyms`` order; (num_synonyms, T, D) if
        ``average_templates`` is False.

    Warns:
        UserWarning: If prompts are longer than the context length and were truncated; the
            message names the classes (and synonyms) concerned.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    vocabulary = build_vocabulary(vocabulary)
    templates = get_templates(templates)
    synonyms = vocabulary.synonyms
    prompts = [template.replace('{}', name) for name in synonyms for template in templates]
    tokens = _tokenize(tokenizer, prompts, getattr(model, 'context_length', None))
    if tokens.dim() != 2 or tokens.shape[0] != len(prompts):
        raise ValueError(f'the tokenizer returned shape {tuple(tokens.shape)} for '
                         f'{len(prompts)} prompts; expected ({len(prompts)}, context_length)')
    _warn_truncation(tokenizer, prompts, tokens, vocabulary, len(templates))

    device = model_device(model)
    encoder = text_encoder_for(model)
    # Prompts sorted by length, so that each batch runs only as far as its longest prompt.
    order = torch.argsort(encoder.positions(tokens), stable=True)
    chunks = []
    with Progress(len(prompts), 'text encoding', unit='prompt',
                  delay=_PROGRESS_DELAY_S) as progress:
        for start in range(0, len(prompts), batch_size):
            batch = tokens[order[start:start + batch_size]].to(device)
            chunks.append(F.normalize(encoder(batch).float(), dim=-1))
            progress.update(len(batch))
    encoder.release()
    sorted_embeddings = torch.cat(chunks)
    embeddings = torch.empty_like(sorted_embeddings)
    embeddings[order.to(device)] = sorted_embeddings
    embeddings = embeddings.view(len(synonyms), len(templates), -1)
    if not average_templates:
        return embeddings
    return F.normalize(embeddings.mean(dim=1), dim=-1)


def _warn_truncation(tokenizer: Tokenizer, prompts: list[str], tokens: torch.Tensor,
                     vocabulary: Vocabulary, num_templates: int) -> None:
    cut, exact = _truncated_prompts(tokenizer, prompts, tokens)
    if not cut:
        return
    synonyms, synonym_to_class = vocabulary.synonyms, vocabulary.synonym_to_class
    classes: dict[str, list[str]] = {}
    for prompt_index in cut:
        synonym_index = prompt_index // num_templates
        name = vocabulary.class_names[synonym_to_class[synonym_index]]
        synonym = synonyms[synonym_index]
        if synonym not in classes.setdefault(name, []):
            classes[name].append(synonym)
    listed = '; '.join(repr(name) if synonyms == [name] else f'{name!r} (synonyms {synonyms})'
                       for name, synonyms in classes.items())
    how = 'are longer than' if exact else 'fill (and may exceed)'
    warnings.warn(f'{len(cut)} of {len(prompts)} prompts {how} the text context of '
                  f'{tokens.shape[-1]} tokens and were truncated, for classes: {listed}',
                  UserWarning, stacklevel=4)  # the caller of build_text_classifier


def _class_index(vocabulary: Vocabulary | Sequence[int] | torch.Tensor,
                 device: torch.device) -> tuple[torch.Tensor, int]:
    if isinstance(vocabulary, Vocabulary):
        return vocabulary.synonym_index(device), vocabulary.num_classes
    index = torch.as_tensor(vocabulary, dtype=torch.long, device=device)
    return index, int(index.max()) + 1 if index.numel() else 0


def reduce_synonyms(logits: torch.Tensor, vocabulary: Vocabulary | Sequence[int] | torch.Tensor,
                    mode: str = 'max') -> torch.Tensor:
    """Turns per-synonym scores into per-class scores.

    Works on logits or probabilities. SCLIP and NACLIP take the max after a softmax over all
    synonyms; the class argmax is the same either way.

    Args:
        logits: (B, S, ...) scores, S = ``vocabulary.num_synonyms``, any trailing dims.
        vocabulary: A :class:`Vocabulary`, or the synonym-to-class index (S,).
        mode: ``'max'`` (the class score is its best synonym) or ``'mean'``.

    Returns:
        (B, C, ...) scores with the dtype of ``logits`` (``logits`` itself when every class has
        exactly one synonym).
    """
    reductions = {'max': 'amax', 'mean': 'mean'}
    if mode not in reductions:
        raise ValueError(f'unknown mode {mode!r}; valid modes: {", ".join(reductions)}')
    if logits.dim() < 2:
        raise ValueError(f'logits must have shape (B, S, ...), got {tuple(logits.shape)}')
    index, num_classes = _class_index(vocabulary, logits.device)
    if logits.shape[1] != index.numel():
        raise ValueError(f'logits have {logits.shape[1]} synonym channels but the vocabulary '
                         f'has {index.numel()} synonyms')
    if index.numel() == num_classes and bool((index == torch.arange(num_classes,
                                                                    device=index.device)).all()):
        return logits
    shape = list(logits.shape)
    shape[1] = num_classes
    index = index.view(1, -1, *([1] * (logits.dim() - 2))).expand_as(logits)
    if mode == 'max':
        init = logits.new_full(shape, float('-inf'))
        return init.scatter_reduce(1, index, logits, reduce='amax', include_self=True)
    return logits.new_zeros(shape).scatter_reduce(1, index, logits, reduce='mean',
                                                  include_self=False)


def merge_synonyms(embeddings: torch.Tensor, vocabulary: Vocabulary) -> torch.Tensor:
    """Averages the normalised synonym embeddings of each class, then re-normalises (CAT-Seg).

    Args:
        embeddings: (S, ..., D) synonym embeddings from :func:`build_text_classifier`.
        vocabulary: The vocabulary they were built from.

    Returns:
        (C, ..., D) L2-normalised class embeddings.
    """
    if embeddings.shape[0] != vocabulary.num_synonyms:
        raise ValueError(f'embeddings have {embeddings.shape[0]} rows but the vocabulary has '
                         f'{vocabulary.num_synonyms} synonyms')
    index = vocabulary.synonym_index(embeddings.device)
    summed = embeddings.new_zeros((vocabulary.num_classes, *embeddings.shape[1:]))
    summed.index_add_(0, index, F.normalize(embeddings, dim=-1))
    return F.normalize(summed, dim=-1)
