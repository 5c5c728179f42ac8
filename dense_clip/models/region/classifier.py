"""Zero-shot classification of region embeddings against a text classifier.

The text side is the one segmentation uses (:func:`dense_clip.models.text.build_text_classifier`:
templates averaged, one row per synonym). A region's logits are its cosine similarity to every
synonym embedding divided by a temperature; a softmax over all synonyms (and a background column,
if any) gives probabilities, and a class scores the best of its synonyms (as the segmentors do).

Background, three ways (``background``):

* ``'zero'``: RegionCLIP's zero background embedding (microsoft/RegionCLIP,
  ``FastRCNNOutputLayers`` in ``detectron2/modeling/roi_heads/fast_rcnn.py``: a bias-free linear
  layer initialised to 0 and frozen, i.e. a constant background logit 0 next to cos / T); its
  probability is reported separately and takes mass from every class.
* ``'none'``: a softmax over the classes only.
* a background class in the vocabulary (``Vocabulary(..., background=...)``, e.g. the synthetic
  world's materials): an ordinary class whose index is ``vocabulary.background_index``.

With ``score_thresh`` > 0, regions whose best class probability is below it get label -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from dense_clip.models.text import Vocabulary, reduce_synonyms

__all__ = ['BACKGROUND_MODES', 'RegionClassifier', 'RegionPrediction']

BACKGROUND_MODES = ('zero', 'none')


@dataclass
class RegionPrediction:
    """Zero-shot classification of N regions.

    Attributes:
        probs: (N, C) float32 per-class probabilities in [0, 1] (best synonym of each class).
        labels: (N,) int64 argmax class, or -1 where the best probability is below the threshold.
        scores: (N,) float32 probability of ``labels`` (of the best class where the label is -1).
        background: (N,) float32 probability of the zero background embedding, or None.
    """

    probs: Tensor
    labels: Tensor
    scores: Tensor
    background: Tensor | None = None


class RegionClassifier:
    """Scores region embeddings against class-name embeddings.

    Args:
        temperature: logits are cos / temperature (RegionCLIP 0.01, i.e. x100).
        background: ``'zero'`` or ``'none'``, see the module docstring.
        score_thresh: regions whose best class probability is below it get label -1.
    """

    def __init__(self, temperature: float = 0.01, background: str = 'zero',
                 score_thresh: float = 0.0) -> None:
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if background not in BACKGROUND_MODES:
            raise ValueError(f'background must be one of {BACKGROUND_MODES}, got {background!r}')
        if not 0.0 <= score_thresh <= 1.0:
            raise ValueError(f'score_thresh must be in [0, 1], got {score_thresh}')
        self.temperature = float(temperature)
        self.background = background
        self.score_thresh = float(score_thresh)

    def logits(self, embeddings: Tensor, text: Tensor) -> Tensor:
        """(N, S) synonym logits, plus a last background column (all 0) in ``'zero'`` mode.

        Args:
            embeddings: (N, D) region embeddings (any norm).
            text: (S, D) L2-normalised synonym embeddings.
        """
        if embeddings.ndim != 2 or text.ndim != 2 or embeddings.shape[1] != text.shape[1]:
            raise ValueError(f'region embeddings {tuple(embeddings.shape)} and text embeddings '
                             f'{tuple(text.shape)} must be (N, D) and (S, D) with the same D')
        logits = F.normalize(embeddings.float(), dim=-1) @ text.float().T / self.temperature
        if self.background == 'zero':
            logits = torch.cat([logits, logits.new_zeros(logits.shape[0], 1)], dim=1)
        return logits

    def __call__(self, embeddings: Tensor, text: Tensor, vocabulary: Vocabulary
                 ) -> RegionPrediction:
        """Classifies N regions.

        Args:
            embeddings: (N, D) region embeddings.
            text: (S, D) normalised embeddings of ``vocabulary.synonyms``.
            vocabulary: the classes.

        Returns:
            :class:`RegionPrediction` over ``vocabulary.num_classes`` classes.
        """
        if text.shape[0] != vocabulary.num_synonyms:
            raise ValueError(f'{text.shape[0]} text embeddings for a vocabulary of '
                             f'{vocabulary.num_synonyms} synonyms')
        probs = self.logits(embeddings, text).softmax(dim=-1)
        background = None
        if self.background == 'zero':
            probs, background = probs[:, :-1], probs[:, -1]
        class_probs = reduce_synonyms(probs, vocabulary)
        if class_probs.shape[0] == 0:
            empty = class_probs.new_zeros(0)
            return RegionPrediction(class_probs, empty.long(), empty, background)
        scores, labels = class_probs.max(dim=1)
        labels = torch.where(scores >= self.score_thresh, labels, torch.full_like(labels, -1))
        return RegionPrediction(class_probs, labels, scores, background)

    def __repr__(self) -> str:
        return (f'RegionClassifier(temperature={self.temperature}, '
                f'background={self.background!r}, score_thresh={self.score_thresh})')
