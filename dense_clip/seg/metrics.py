"""mIoU over seen and unseen classes, for open-vocabulary benchmarks with a base/novel split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmseg.evaluation import IoUMetric

from dense_clip.registry import SEG_METRICS

__all__ = ['SplitIoUMetric']


@SEG_METRICS.register_module()
class SplitIoUMetric(IoUMetric):
    """mmseg's IoUMetric plus the mean IoU of the seen and of the unseen classes.

    Args:
        unseen: names of the unseen (novel) classes, as in the dataset's ``classes``; every
            other class counts as seen (a background class included).
        **kwargs: ``IoUMetric`` arguments.

    Returns (from ``compute_metrics``):
        IoUMetric's metrics (percent) plus ``mIoU_seen``, ``mIoU_unseen`` (percent, mean over the
        classes present in the ground truth or the predictions, NaN-free like mmseg's) and
        ``IoU.<class>`` for every class (percent, NaN where the class never occurs).
    """

    def __init__(self, unseen: Sequence[str] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.unseen = tuple(unseen)

    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)
        classes = list(self.dataset_meta['classes'])
        missing = [name for name in self.unseen if name not in classes]
        if missing:
            raise ValueError(f'unseen classes {missing} are not dataset classes {classes}')
        columns = tuple(zip(*results))
        intersect = sum(columns[0]).numpy().astype(np.float64)
        union = sum(columns[1]).numpy().astype(np.float64)
        with np.errstate(invalid='ignore', divide='ignore'):
            iou = intersect / union
        unseen = np.array([name in self.unseen for name in classes])
        for key, mask in (('mIoU_seen', ~unseen), ('mIoU_unseen', unseen)):
            values = iou[mask]
            values = values[~np.isnan(values)]
            metrics[key] = round(float(values.mean()) * 100, 2) if values.size else float('nan')
        for name, value in zip(classes, iou):
            metrics[f'IoU.{name}'] = round(float(value) * 100, 2)
        return metrics
