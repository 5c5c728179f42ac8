"""CAT-Seg's text side: one embedding per class and template, differentiable for fine-tuning.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024.
The authors' forward pass (KU-CVLAB/CAT-Seg ``cat_seg/modeling/transformer/cat_seg_predictor.py``,
``get_text_embeds``) fills every template with the *first* alias of a comma-separated class name
only, encodes the prompts with the (fine-tuned) text tower at every training step, L2-normalises
each prompt embedding and keeps the template axis: (classes, templates, D). At inference the
embeddings are computed once and cached. (Their ``class_embeddings`` averages all aliases, but its
result, ``text_features``, is never read by the forward pass.)

``synonyms='all'`` is this project's extension for vocabularies whose classes are lists of names
(a background made of stuff names, the synthetic world's colour x texture synonyms): every name is
a class of the aggregator and a class scores the max over its names.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dense_clip.models.text import Vocabulary

__all__ = ['SYNONYM_MODES', 'class_names_for', 'encode_prompts']

Tokenizer = Callable[..., Tensor]


def _first(vocabulary: Vocabulary) -> tuple[list[str], list[int]]:
    return ([synonyms[0] for synonyms in vocabulary.class_synonyms],
            list(range(vocabulary.num_classes)))


def _all(vocabulary: Vocabulary) -> tuple[list[str], list[int]]:
    return list(vocabulary.synonyms), list(vocabulary.synonym_to_class)


#: How a class with several names enters the aggregator.
SYNONYM_MODES: dict[str, Callable[[Vocabulary], tuple[list[str], list[int]]]] = {
    'first': _first,
    'all': _all,
}


def class_names_for(vocabulary: Vocabulary, mode: str = 'first') -> tuple[list[str], list[int]]:
    """The names the aggregator scores, and the class of each.

    Args:
        vocabulary: the classes.
        mode: 'first' (the authors: first alias of each class) or 'all' (every synonym).

    Returns:
        (names, class index of each name).
    """
    if mode not in SYNONYM_MODES:
        raise ValueError(f'unknown synonyms mode {mode!r}; valid: {sorted(SYNONYM_MODES)}')
    return SYNONYM_MODES[mode](vocabulary)


def encode_prompts(clip_model: nn.Module, tokenizer: Tokenizer, names: Sequence[str],
                   templates: Sequence[str], batch_size: int = 1024) -> Tensor:
    """Embeds every (name, template) prompt through the text tower, with autograd if enabled.

    Args:
        clip_model: anything with ``encode_text(tokens (N, L)) -> (N, D)`` (an open_clip CLIP).
        tokenizer: ``tokenizer(list[str]) -> (N, L)`` int64 token ids.
        names: K class names.
        templates: P templates with one ``{}``.
        batch_size: prompts per ``encode_text`` call.

    Returns:
        (K, P, D) float32 embeddings, L2-normalised along D, on the model's device.
    """
    if not names:
        raise ValueError('no class names to encode')
    prompts = [template.replace('{}', name) for name in names for template in templates]
    tokens = tokenizer(prompts)
    full = torch.nonzero(tokens[:, -1] != 0).flatten().tolist()
    if full:  # a prompt that fills the context may have been cut
        shown = sorted({prompts[i] for i in full})
        warnings.warn(f'{len(full)} prompt(s) fill the text context of {tokens.shape[-1]} tokens '
                      f'and may be truncated: {shown[:5]}', UserWarning, stacklevel=2)
    device = next(clip_model.parameters()).device
    chunks = [F.normalize(clip_model.encode_text(tokens[i:i + batch_size].to(device)).float(),
                          dim=-1)
              for i in range(0, len(prompts), batch_size)]
    return torch.cat(chunks).reshape(len(names), len(templates), -1)
