"""Per-class scores of mmseg's and mmdet's metrics, kept for tables, CSV files and charts.

mmseg's ``IoUMetric`` logs a per-class table but returns only the means; mmdet's ``CocoMetric``
returns per-class AP only with ``classwise=True``. :class:`PerClassMetric` wraps such a metric,
delegates everything to it and keeps the per-class scores of the last evaluation, computed from
the same accumulated results the wrapped metric used (so they agree with its means).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from mmengine.evaluator import BaseMetric

__all__ = ['PerClassMetric', 'PerClassScores', 'per_class_extractor', 'supports_per_class']


@dataclass
class PerClassScores:
    """Per-class results of one metric.

    Attributes:
        primary: Name of the score the table is sorted by (``'IoU'``, ``'AP'``).
        class_names: One name per class, in label order.
        columns: Column name -> (num_classes,) float64 values in percent (0-100), NaN where the
            class does not occur (no ground truth and no prediction); ``primary`` is one of them.
        prefix: The wrapped metric's prefix (``''`` when it has none).
    """

    primary: str
    class_names: list[str]
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    prefix: str = ''

    @property
    def scores(self) -> np.ndarray:
        """(num_classes,) float64 values of the primary score, percent, NaN for absent classes."""
        return self.columns[self.primary]


Extractor = Callable[[BaseMetric, list, dict], PerClassScores]
_EXTRACTORS: dict[str, tuple[Extractor, Callable[[BaseMetric], None]]] = {}


def per_class_extractor(metric_type: str, prepare: Callable[[BaseMetric], None] | None = None):
    """Registers ``fn(metric, results, computed) -> PerClassScores`` for a metric class name.

    Subclasses of that metric use it too. ``prepare(metric)`` runs once when a metric is
    wrapped (e.g. to switch on mmdet's class-wise evaluation).
    """

    def register(fn: Extractor) -> Extractor:
        _EXTRACTORS[metric_type] = (fn, prepare or (lambda metric: None))
        return fn

    return register


def _lookup(metric: BaseMetric) -> tuple[Extractor, Callable[[BaseMetric], None]] | None:
    for cls in type(metric).__mro__:
        if cls.__name__ in _EXTRACTORS:
            return _EXTRACTORS[cls.__name__]
    return None


def supports_per_class(metric: BaseMetric) -> bool:
    """Whether per-class scores can be read from ``metric``."""
    return _lookup(metric) is not None


def _percent(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    np.divide(100.0 * numerator, denominator, out=out, where=denominator > 0)
    return out


@per_class_extractor('IoUMetric')
def _iou_scores(metric: BaseMetric, results: list, computed: dict) -> PerClassScores:
    """IoU and accuracy per class from ``IoUMetric`` results (areas per image).

    As mmseg: IoU = intersection / union, Acc = intersection / ground-truth area, summed over
    the data set; NaN for a class with an empty union (excluded from mIoU by mmseg's nanmean).
    """
    intersect, union, _, label = (np.asarray(sum(r[i] for r in results), np.float64)
                                  for i in range(4))
    return PerClassScores(
        primary='IoU',
        class_names=list(metric.dataset_meta['classes']),
        columns={'IoU': _percent(intersect, union), 'Acc': _percent(intersect, label),
                 'gt pixels': label},
    )


def _classwise_on(metric: BaseMetric) -> None:
    metric.classwise = True


@per_class_extractor('CocoMetric', prepare=_classwise_on)
def _coco_scores(metric: BaseMetric, results: list, computed: dict) -> PerClassScores:
    """AP@[.5:.95] per category from mmdet's class-wise ``CocoMetric`` output.

    mmdet returns ``'<category>_precision'`` (0-1, 3 decimals) per category for the last of its
    ``metric`` types (``bbox``, then ``segm``); NaN for categories without ground truth.
    """
    names = list(metric.dataset_meta['classes'])
    scores = np.array([100.0 * float(computed.get(f'{name}_precision', np.nan))
                       for name in names])
    return PerClassScores(primary='AP', class_names=names, columns={'AP': scores})


class PerClassMetric(BaseMetric):
    """Delegates to ``metric`` and keeps its per-class scores in :attr:`per_class`.

    Args:
        metric: An evaluator metric with a registered extractor (``IoUMetric``,
            ``CocoMetric`` and their subclasses).

    Raises:
        ValueError: ``metric`` has no per-class extractor.
    """

    def __init__(self, metric: BaseMetric) -> None:
        found = _lookup(metric)
        if found is None:
            known = ', '.join(sorted(_EXTRACTORS))
            raise ValueError(f'no per-class scores for {type(metric).__name__}; known: {known}')
        super().__init__(collect_device=metric.collect_device, prefix=metric.prefix or '')
        self.metric = metric
        self._extract, prepare = found
        prepare(metric)
        self.per_class: PerClassScores | None = None

    @property
    def dataset_meta(self) -> dict | None:
        return self.metric.dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self.metric.dataset_meta = dataset_meta

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Runs the wrapped metric's ``process`` and takes over its results."""
        self.metric.process(data_batch, data_samples)
        self.results.extend(self.metric.results)
        self.metric.results.clear()

    def compute_metrics(self, results: list) -> dict:
        """The wrapped metric's means; the per-class scores go to :attr:`per_class`.

        :attr:`per_class` stays None when nothing was scored (no results, or ``format_only``).
        """
        computed = self.metric.compute_metrics(results)
        self.per_class = None
        if results and not getattr(self.metric, 'format_only', False):  # else nothing scored
            self.per_class = self._extract(self.metric, results, computed)
            self.per_class.prefix = self.prefix or ''
        return computed
