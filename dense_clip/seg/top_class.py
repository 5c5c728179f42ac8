"""The final decision of a segmentor, streamed over chunks of class names in bounded memory.

:func:`~dense_clip.seg.inference.finalise_prediction` needs the probabilities of every class
name at every pixel at once: (S, H, W) float32, 40 GB for ADE-847's names on a 4000x3000 photo.
The decision itself only needs, per pixel, a few running numbers, so it can read the scores one
chunk of names at a time (``test_cfg.probs='top'``):

* the softmax over names (CLIP scores x ``logit_scale``, or logits) as a running maximum m and
  a running sum s of exp(x - m), rescaled when m grows (the online softmax of Milakov &
  Gimelshein, "Online normalizer calculation for softmax", 2018);
* the label: the class of the name with the highest score, ties going to the lower class (the
  first maximum, as ``argmax`` over the class probabilities);
* the probability of that class, 1 / s, and the sum of the class probabilities
  (each class's best name), which NACLIP's renormalisation divides by;
* the area threshold (SCLIP) needs every pixel's label first: when it drops a class, a second
  pass over the chunks finds the best remaining class, with m and s of the first pass.

Chunks must hold whole classes (every synonym of a class in one chunk) and come in class order.
The running sums are kept in float64, with exact differences x - m, so the probabilities agree
with the full float32 softmax to its own rounding (~1e-6 relative); labels are equal except where
two classes' probabilities round to the same float.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dense_clip.models.text import reduce_synonyms

from .steps.base import Prediction

__all__ = ['TopClassAccumulator', 'class_chunks', 'stream_decision']


def _exp_minus(values: Tensor, best: Tensor) -> Tensor:
    """exp(values - best) in float64: the difference of two float32 numbers is exact there."""
    return (values.double() - best.double()).exp_()


def class_chunks(class_index: Tensor, max_names: int) -> list[tuple[int, int]]:
    """Splits names (grouped by class, classes in order) into ranges of whole classes.

    Args:
        class_index: (S,) long, the class of each name, non-decreasing.
        max_names: Names per chunk; a class with more synonyms gets a chunk of its own.

    Returns:
        ``[(start, end), ...]`` name ranges covering 0..S in order.
    """
    index = class_index.tolist()
    if any(b < a for a, b in zip(index, index[1:])):
        raise ValueError('class names must be grouped by class, classes in order')
    runs = [i for i in range(1, len(index)) if index[i] != index[i - 1]]
    bounds = list(zip([0] + runs, runs + [len(index)]))  # one (start, end) per class
    chunks: list[tuple[int, int]] = []
    for start, end in bounds:
        if chunks and end - chunks[-1][0] <= max(max_names, 1):
            chunks[-1] = (chunks[-1][0], end)
        else:
            chunks.append((start, end))
    return chunks


class TopClassAccumulator:
    """Running per-pixel state of the decision over chunks of names.

    Args:
        space: The scores' space: 'cosine' (multiplied by ``logit_scale``, then softmax over
            names), 'logit' (softmax) or 'prob' (already probabilities).
        logit_scale: Multiplies 'cosine' scores.
        num_classes: C.
    """

    def __init__(self, space: str, logit_scale: float, num_classes: int) -> None:
        if space not in ('cosine', 'logit', 'prob'):
            raise ValueError(f"unknown score space {space!r}; valid: ('cosine', 'logit', 'prob')")
        self.space = space
        self.logit_scale = float(logit_scale)
        self.num_classes = int(num_classes)
        self._best: Tensor | None = None  # max score so far (m, or the top probability)
        self._norm: Tensor | None = None  # s: sum of exp(x - m) over names (softmax spaces)
        self._class_sum: Tensor | None = None  # sum of class probabilities (unnormalised)
        self._labels: Tensor | None = None
        self._keep: Tensor | None = None  # (C,) bool, after the area threshold
        self._second: tuple[Tensor, Tensor, Tensor] | None = None

    @property
    def softmax(self) -> bool:
        return self.space != 'prob'

    def _values(self, scores: Tensor) -> Tensor:
        values = scores.float()
        return values * self.logit_scale if self.space == 'cosine' else values

    @staticmethod
    def _local(classes: Tensor) -> tuple[Tensor, Tensor]:
        """Class ids present in a chunk (ascending) and each name's position among them."""
        present, local = torch.unique_consecutive(classes, return_inverse=True)
        return present, local

    def add(self, scores: Tensor, classes: Tensor) -> None:
        """First pass: one chunk of names.

        Args:
            scores: (K, H, W) scores of K consecutive names, in ``space``.
            classes: (K,) long, their classes (whole classes, after the previous chunk's).
        """
        x = self._values(scores)
        present, local = self._local(classes.to(x.device))
        class_max = reduce_synonyms(x[None], local)[0]  # (Kc, H, W)
        chunk_best, where = class_max.max(dim=0)  # first maximum: the lower class on ties
        chunk_labels = present[where]
        if self._best is None:
            self._best = torch.full_like(chunk_best, float('-inf'))
            self._labels = torch.zeros(chunk_best.shape, dtype=torch.long, device=x.device)
            self._class_sum = torch.zeros_like(chunk_best, dtype=torch.float64)
            self._norm = torch.zeros_like(self._class_sum) if self.softmax else None
        better = chunk_best > self._best
        self._labels = torch.where(better, chunk_labels, self._labels)
        if not self.softmax:
            self._best = torch.maximum(self._best, chunk_best)
            self._class_sum += class_max.sum(dim=0, dtype=torch.float64)
            return
        new_best = torch.maximum(self._best, chunk_best)
        rescale = _exp_minus(self._best, new_best)
        self._norm = self._norm * rescale + _exp_minus(x, new_best).sum(dim=0)
        self._class_sum = self._class_sum * rescale + _exp_minus(class_max, new_best).sum(dim=0)
        self._best = new_best

    def labels(self) -> Tensor:
        """(H, W) long labels of the first pass (before any threshold)."""
        if self._labels is None:
            raise RuntimeError('no scores were added')
        return self._labels

    def drop_small_classes(self, area_thresh: float | None) -> bool:
        """Applies the area threshold to the first-pass labels.

        Returns:
            True if classes were dropped: run :meth:`add_kept` over every chunk again.
        """
        if area_thresh is None or self.num_classes < 2:
            return False
        areas = torch.bincount(self.labels().flatten(), minlength=self.num_classes)[1:].float()
        keep = torch.cat([areas.new_ones(1), (areas > area_thresh * areas.sum()).float()]) > 0
        if bool(keep.all()):
            return False
        self._keep = keep.to(self._labels.device)
        best = torch.full_like(self._best, float('-inf'))
        self._second = (best, torch.zeros_like(self._labels), torch.zeros_like(self._best))
        return True

    def add_kept(self, scores: Tensor, classes: Tensor) -> None:
        """Second pass (after :meth:`drop_small_classes` returned True): one chunk again."""
        if self._second is None:
            raise RuntimeError('add_kept needs drop_small_classes to have dropped a class')
        x = self._values(scores)
        present, local = self._local(classes.to(x.device))
        kept = self._keep[present]
        if not bool(kept.any()):
            return
        class_max = reduce_synonyms(x[None], local)[0][kept]
        present = present[kept]
        best, labels, class_sum = self._second
        chunk_best, where = class_max.max(dim=0)
        better = chunk_best > best
        labels = torch.where(better, present[where], labels)
        best = torch.maximum(best, chunk_best)
        if self.softmax:
            class_sum += _exp_minus(class_max, self._best).sum(dim=0)
        else:
            class_sum += class_max.sum(dim=0, dtype=torch.float64)
        self._second = (best, labels, class_sum)

    def finish(self, prob_thresh: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
        """The decision.

        Returns:
            (probability of the predicted class (1, H, W) float32, labels (1, H, W) long,
            sum of the class probabilities (1, H, W) float32), after the area threshold (its
            dropped classes count as probability 0) and the probability threshold (pixels below
            it become class 0; their probability stays that of the best class).
        """
        labels = self.labels()
        if self._second is None:
            best, class_sum = self._best, self._class_sum
        else:
            best, labels, class_sum = self._second
        if self.softmax:
            top = (_exp_minus(best, self._best) / self._norm).float()
            class_sum = (class_sum / self._norm).float()
        else:
            top, class_sum = best, class_sum.float()
        labels = labels.clone()
        labels[top < prob_thresh] = 0
        return top[None], labels[None], class_sum[None]


def stream_decision(chunk_scores: Callable[[int, int], Prediction],
                    chunks: list[tuple[int, int]], class_index: Tensor, logit_scale: float,
                    num_classes: int, area_thresh: float | None = None,
                    prob_thresh: float = 0.0) -> Prediction:
    """The segmentor's decision, reading the scores one chunk of names at a time.

    Args:
        chunk_scores: ``chunk_scores(start, end)`` -> a :class:`Prediction` whose ``scores``
            are (1, end - start, H, W) for names ``start:end`` (called twice per chunk when the
            area threshold drops a class).
        chunks: Name ranges of whole classes, in order (:func:`class_chunks`).
        class_index: (S,) long, the class of each name.
        logit_scale, num_classes, area_thresh, prob_thresh: As the segmentor's.

    Returns:
        A prediction with ``probs`` (1, H, W), the probability of each pixel's class,
        ``labels`` (1, H, W) long and ``prob_sum`` (1, H, W), the sum of the class
        probabilities; ``scores`` None.
    """
    accumulator: TopClassAccumulator | None = None
    for second_pass in (False, True):
        for start, end in chunks:
            pred = chunk_scores(start, end)
            if accumulator is None:
                accumulator = TopClassAccumulator(pred.space, logit_scale, num_classes)
            add = accumulator.add_kept if second_pass else accumulator.add
            add(pred.scores[0], class_index[start:end])
        if second_pass or not accumulator.drop_small_classes(area_thresh):
            break
    top, labels, prob_sum = accumulator.finish(prob_thresh)
    return Prediction(scores=None, space=accumulator.space, probs=top, labels=labels,
                      prob_sum=prob_sum)
