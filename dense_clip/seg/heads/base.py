"""The head interface: a dense pass and the text embeddings in, per-name scores out.

A head turns one :class:`~dense_clip.models.clip.DenseOutput` (a batch of windows) into scores
for every class name on the dense grid, in one of the score spaces of
:mod:`dense_clip.seg.steps.base`. Heads with parameters (CLIP-DINOiser's) are trained through the
segmentor's ``loss``; heads whose layers depend on the CLIP tower build them in :meth:`setup`,
which the segmentor calls once after building the tower.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from dense_clip.models.clip import CLIPDenseEncoder, DenseOutput, DenseRequest
from dense_clip.models.text import Vocabulary

from ..steps.base import Prediction

__all__ = ['SegHead']


class SegHead(nn.Module):
    """Base class of open-vocabulary segmentation heads.

    Class attributes:
        request: side outputs of the dense pass the head reads (may be set in ``setup``).
        trainable: the head has parameters that ``loss`` trains.
    """

    request: DenseRequest = DenseRequest()
    trainable: bool = False

    def setup(self, encoder: CLIPDenseEncoder) -> None:
        """Builds tower-dependent layers; called once by the segmentor. Default: nothing."""

    def forward(self, dense: DenseOutput, text: Tensor, vocabulary: Vocabulary) -> Prediction:
        """Scores class names.

        Args:
            dense: the pass over (N, 3, h_in, w_in) windows.
            text: (S, D) L2-normalised name embeddings, rows in ``vocabulary.synonyms`` order.
            vocabulary: the classes (for heads with a background rule).

        Returns:
            ``Prediction`` with ``scores`` (N, S, h, w) on ``dense.grid`` and their ``space``.
        """
        raise NotImplementedError

    def lazy_scores(self, dense: DenseOutput, text: Tensor, vocabulary: Vocabulary) -> Any:
        """Scores to be computed later, a range of names at a time, or None.

        Bounded-memory prediction keeps every window's scores until the end; a head whose
        scores for names ``start:end`` can be recomputed from something smaller than (N, S, h, w)
        returns an object with ``space``, ``shape`` (N, S, h, w), ``nbytes`` and
        ``channels(start, end) -> (N, end - start, h, w)``, equal to ``forward``'s scores of
        those names. Default: None (the scores themselves are kept).
        """
        return None

    def init_weights(self) -> None:
        """Loads the head's own weights (a checkpoint named in its config). Default: nothing."""

    def loss(self, dense: DenseOutput, inputs: Tensor, data_samples: list) -> dict[str, Tensor]:
        """Training losses (trainable heads only)."""
        raise NotImplementedError(f'{type(self).__name__} has nothing to train')
