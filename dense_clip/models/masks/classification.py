"""Open-vocabulary classification of mask embeddings: cosine with the text classifier, softmax
over class names, best synonym per class, and a background / no-object rule.

The scoring is the one the dense methods use per pixel (cosine of L2-normalised embeddings,
times a logit scale, softmax over all names, max over each class's synonyms), applied per mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dense_clip.models.text import reduce_synonyms

__all__ = ['MaskClassification', 'classify_masks']


@dataclass
class MaskClassification:
    """Classes of N masks over C classes.

    Attributes:
        probs: (N, C) float32 class probabilities (max over each class's names of the softmax
            over all names; rows need not sum to 1 when classes have several names).
        labels: (N,) int64 arg-max class, background included.
        scores: (N,) float32 probability of that class.
        is_object: (N,) bool: the mask names an object of the vocabulary (its class is not the
            background class and its score reaches the threshold); False = "no object".
    """

    probs: Tensor
    labels: Tensor
    scores: Tensor
    is_object: Tensor


def classify_masks(embeddings: Tensor, text: Tensor, class_index: Tensor, num_classes: int,
                   logit_scale: float = 100.0, background_index: int | None = None,
                   score_thresh: float = 0.0) -> MaskClassification:
    """Classifies mask embeddings with a text classifier.

    Args:
        embeddings: (N, D) mask embeddings (e.g. :func:`mask_pool`), any norm; zero rows (empty
            masks) get uniform probabilities and are never objects.
        text: (S, D) L2-normalised class-name embeddings (``build_text_classifier``).
        class_index: (S,) int64 class of each name (``Vocabulary.synonym_index()``).
        num_classes: C.
        logit_scale: multiplies cosine similarities before the softmax over names (100 is
            CLIP's own trained scale).
        background_index: the class that means "no object" (``Vocabulary.background_index``);
            None when the vocabulary has none.
        score_thresh: a mask whose top class probability is below this is "no object".

    Returns:
        :class:`MaskClassification`.

    Raises:
        ValueError: mismatched widths or class index; an empty vocabulary.
    """
    if text.ndim != 2 or text.shape[0] == 0:
        raise ValueError(f'the text classifier must be (S, D) with S >= 1, got '
                         f'{tuple(text.shape)}: the vocabulary is empty')
    if embeddings.ndim != 2 or embeddings.shape[1] != text.shape[1]:
        raise ValueError(f'mask embeddings {tuple(embeddings.shape)} do not match the text '
                         f'classifier {tuple(text.shape)} (width D must agree)')
    if class_index.numel() != text.shape[0] or int(class_index.max()) >= num_classes:
        raise ValueError(f'{text.shape[0]} class names do not match a class index of '
                         f'{class_index.numel()} names over {num_classes} classes')
    empty = embeddings.abs().sum(dim=1) == 0
    cosine = F.normalize(embeddings.float(), dim=-1) @ text.float().T.to(embeddings.device)
    name_probs = (cosine * logit_scale).softmax(dim=-1)  # (N, S)
    probs = reduce_synonyms(name_probs, class_index.to(embeddings.device))  # (N, C)
    if probs.shape[0] == 0:
        scores, labels = probs.new_zeros(0), torch.zeros(0, dtype=torch.long)
    else:
        scores, labels = probs.max(dim=1)
    is_object = (scores >= score_thresh) & ~empty
    if background_index is not None:
        is_object &= labels != background_index
    return MaskClassification(probs, labels, scores, is_object)
