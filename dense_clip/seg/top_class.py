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
The probabilities agree with the full float32 softmax to float32 rounding (~1e-5 relative: the
exponent x - m is rounded against a running m, and the sums run in another order); labels are
equal except where two classes' probabilities round to the same float.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from dense_clip.utils.progress import Progress

from .steps.base import Prediction

__all__ = ['TopClassAccumulator', 'class_chunks', 'stream_decision']

# Streams shorter than this stay silent; longer ones report chunks/s and time left.
_PROGRESS_DELAY_S = 5.0


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


def _class_runs(classes: Tensor) -> list[tuple[int, int, int]]:
    """(start, end, class) of each class's names in a chunk of consecutive names."""
    index = classes.tolist()
    runs, start = [], 0
    for i in range(1, len(index) + 1):
        if i == len(index) or index[i] != index[start]:
            runs.append((start, i, index[start]))
            start = i
    return runs


class TopClassAccumulator:
    """Running per-pixel state of the decision over chunks of names.

    Scores stay in their own units: with f = ``logit_scale`` for 'cosine' (1 for 'logit') a
    name's softmax weight is exp(f (x - m)). Each term is one (H, W) float32 map in a reused
    buffer, so temporaries stay at a few maps whatever the chunk size.

    Args:
        space: The scores' space: 'cosine' (multiplied by ``logit_scale``, then softmax over
            names), 'logit' (softmax) or 'prob' (already probabilities).
        logit_scale: Multiplies 'cosine' scores (> 0).
        num_classes: C.
    """

    def __init__(self, space: str, logit_scale: float, num_classes: int) -> None:
        if space not in ('cosine', 'logit', 'prob'):
            raise ValueError(f"unknown score space {space!r}; valid: ('cosine', 'logit', 'prob')")
        if space == 'cosine' and not logit_scale > 0:
            raise ValueError(f'logit_scale must be positive, got {logit_scale}')
        self.space = space
        self.factor = float(logit_scale) if space == 'cosine' else 1.0
        self.num_classes = int(num_classes)
        self._best: Tensor | None = None  # max score so far (m, or the top probability)
        self._norm: Tensor | None = None  # sum over names of exp(f (x - m)) (softmax spaces)
        self._class_sum: Tensor | None = None  # the same over each class's best name
        self._labels: Tensor | None = None
        self._keep: list[bool] | None = None  # per class, after the area threshold
        self._second: tuple[Tensor, Tensor, Tensor] | None = None
        self._buffer: Tensor | None = None  # one (H, W) float32 map reused for every term

    @property
    def softmax(self) -> bool:
        return self.space != 'prob'

    def _add_weights(self, total: Tensor, value: Tensor, best: Tensor) -> None:
        """total += exp(f (value - best)) (softmax spaces) or value ('prob'); (H, W) maps."""
        if not self.softmax:
            total.add_(value)
            return
        if self._buffer is None or self._buffer.shape != value.shape:
            self._buffer = torch.empty_like(best)
        term = torch.sub(value, best, out=self._buffer)
        if self.factor != 1.0:
            term.mul_(self.factor)
        total.add_(term.exp_())

    @staticmethod
    def _class_maps(x: Tensor, runs: list[tuple[int, int, int]]) -> list[Tensor]:
        """Each class's best name score, (H, W) each (a view for single-name classes)."""
        return [x[a] if b - a == 1 else x[a:b].amax(dim=0) for a, b, _ in runs]

    @staticmethod
    def _vote(maps: list[Tensor], runs: list[tuple[int, int, int]], best: Tensor,
              labels: Tensor) -> None:
        """Updates best (in place) and labels where a class beats it strictly (in class order,
        so ties keep the lower class, as ``argmax``)."""
        for value, (_, _, label) in zip(maps, runs):
            labels.masked_fill_(value > best, label)
            torch.maximum(best, value, out=best)

    def add(self, scores: Tensor, classes: Tensor) -> None:
        """First pass: one chunk of names.

        Args:
            scores: (K, H, W) scores of K consecutive names, in ``space``.
            classes: (K,) long, their classes (whole classes, after the previous chunk's).
        """
        x = scores.float()
        runs = _class_runs(classes)
        maps = self._class_maps(x, runs)
        if self._best is None:
            self._best = torch.full_like(maps[0], float('-inf'))
            self._labels = torch.zeros(maps[0].shape, dtype=torch.int32, device=x.device)
            self._class_sum = torch.zeros_like(maps[0])
            self._norm = torch.zeros_like(self._class_sum) if self.softmax else None
        old_best = self._best.clone()
        self._vote(maps, runs, self._best, self._labels)
        if self.softmax:  # rescale the sums to the new maximum, then add this chunk
            rescale = (old_best - self._best).mul_(self.factor).exp_()
            self._norm.mul_(rescale)
            self._class_sum.mul_(rescale)
            del rescale, old_best
            for value in x:
                self._add_weights(self._norm, value, self._best)
        for value in maps:
            self._add_weights(self._class_sum, value, self._best)

    def labels(self) -> Tensor:
        """(H, W) long labels of the first pass (before any threshold)."""
        if self._labels is None:
            raise RuntimeError('no scores were added')
        return self._labels.long()

    def drop_small_classes(self, area_thresh: float | None) -> bool:
        """Applies the area threshold to the first-pass labels.

        Returns:
            True if classes were dropped: run :meth:`add_kept` over every chunk again.
        """
        if area_thresh is None or self.num_classes < 2:
            return False
        areas = torch.bincount(self.labels().flatten(), minlength=self.num_classes)[1:].float()
        keep = [True] + (areas > area_thresh * areas.sum()).tolist()
        if all(keep):
            return False
        self._keep = keep
        best = torch.full_like(self._best, float('-inf'))
        self._second = (best, torch.zeros_like(self._labels), torch.zeros_like(self._class_sum))
        return True

    def add_kept(self, scores: Tensor, classes: Tensor) -> None:
        """Second pass (after :meth:`drop_small_classes` returned True): one chunk again."""
        if self._second is None:
            raise RuntimeError('add_kept needs drop_small_classes to have dropped a class')
        x = scores.float()
        runs = [run for run in _class_runs(classes) if self._keep[run[2]]]
        maps = self._class_maps(x, runs)
        best, labels, class_sum = self._second
        self._vote(maps, runs, best, labels)
        for value in maps:  # dropped classes count as probability 0
            self._add_weights(class_sum, value, self._best)

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
            labels = labels.long()
        if self.softmax:
            top = ((best - self._best).mul_(self.factor).exp_() / self._norm).float()
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
        desc = 'classes by chunk' + (' (area threshold pass)' if second_pass else '')
        with Progress(len(chunks), desc, unit='chunk', delay=_PROGRESS_DELAY_S) as progress:
            for start, end in chunks:
                pred = chunk_scores(start, end)
                if accumulator is None:
                    accumulator = TopClassAccumulator(pred.space, logit_scale, num_classes)
                add = accumulator.add_kept if second_pass else accumulator.add
                add(pred.scores[0], class_index[start:end])
                progress.update()
        if second_pass or not accumulator.drop_small_classes(area_thresh):
            break
    top, labels, prob_sum = accumulator.finish(prob_thresh)
    return Prediction(scores=None, space=accumulator.space, probs=top, labels=labels,
                      prob_sum=prob_sum)
