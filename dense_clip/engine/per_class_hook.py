"""Per-class results after a test run: a table in the log, a CSV file and a bar chart.

After ``runner.test()``, for every evaluator metric with per-class scores (mmseg's ``IoUMetric``,
mmdet's ``CocoMetric``; see :mod:`dense_clip.engine.per_class_metric`) the hook writes, in the
run's log folder ``work_dir/<timestamp>/``:

- ``per_class.csv``: rank, class, split, the scores (percent; empty where the class is absent);
- ``per_class.png``: the primary score per class as bars, best first, seen and unseen classes
  coloured apart where the data set has a split;

and logs the same table with the means over seen and unseen classes and their harmonic mean
(hIoU / hAP, the usual open-vocabulary summary). A second metric writes ``per_class_<prefix>``.

The seen / unseen split comes from the hook's ``unseen_classes`` or, failing that, from the
dataset's metainfo key ``unseen_classes`` (the synthetic world sets it).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from dense_clip.registry import HOOKS
from dense_clip.utils.charts import per_class_bar_chart

from .per_class_metric import PerClassMetric, PerClassScores, supports_per_class

__all__ = ['PerClassResultsHook', 'write_per_class_csv']


def _splits(scores: PerClassScores, unseen: list[str] | None) -> list[str]:
    if unseen is None:
        return [''] * len(scores.class_names)
    missing = sorted(set(unseen) - set(scores.class_names))
    if missing:
        raise ValueError(f'unseen classes {missing} are not among the data set classes '
                         f'({len(scores.class_names)}: {scores.class_names[:5]}...)')
    return ['unseen' if name in unseen else 'seen' for name in scores.class_names]


def _order(values: np.ndarray) -> list[int]:
    """Indices by descending value; absent (NaN) classes last, in label order."""
    return [int(i) for i in np.argsort(-np.nan_to_num(values, nan=-np.inf), kind='stable')]


def _fmt(value: float, decimals: int = 2) -> str:
    return '' if np.isnan(value) else f'{value:.{decimals}f}'


def write_per_class_csv(scores: PerClassScores, splits: list[str], path: str | Path) -> Path:
    """Writes one row per class, best first: rank, class, split, then every score column."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['rank', 'class', 'split', *scores.columns])
        for rank, i in enumerate(_order(scores.scores), start=1):
            decimals = {name: 0 if name == 'gt pixels' else 2 for name in scores.columns}
            writer.writerow([rank, scores.class_names[i], splits[i],
                             *(_fmt(col[i], decimals[name]) for name, col in
                               scores.columns.items())])
    return path


def split_means(scores: PerClassScores, splits: list[str]) -> dict[str, float]:
    """Mean primary score over seen and unseen classes and their harmonic mean (percent)."""
    values = scores.scores
    means = {}
    for split in ('seen', 'unseen'):
        chosen = values[[s == split for s in splits]]
        means[split] = float(np.nanmean(chosen)) if np.isfinite(chosen).any() else float('nan')
    seen, unseen = means['seen'], means['unseen']
    means['harmonic'] = 2 * seen * unseen / (seen + unseen) if seen + unseen > 0 else float('nan')
    return means


def format_table(scores: PerClassScores, splits: list[str]) -> str:
    """The per-class table as text, best first."""
    names = list(scores.columns)
    width = max(5, *(len(n) for n in scores.class_names))
    lines = ['  '.join([f'{"class":<{width}s}', f'{"split":<6s}',
                        *(f'{n:>9s}' for n in names)])]
    for i in _order(scores.scores):
        cells = [f'{_fmt(scores.columns[n][i], 0 if n == "gt pixels" else 2) or "-":>9s}'
                 for n in names]
        lines.append('  '.join([f'{scores.class_names[i]:<{width}s}', f'{splits[i]:<6s}',
                                *cells]))
    return '\n'.join(lines)


@HOOKS.register_module()
class PerClassResultsHook(Hook):
    """Writes per-class tables, CSV files and bar charts after ``runner.test()``.

    Args:
        unseen_classes: Names of the classes unseen in training; None reads the dataset's
            ``unseen_classes`` metainfo (no split when it has none).
        chart: Whether to draw the bar chart.
    """

    priority = 'LOW'

    def __init__(self, unseen_classes: list[str] | None = None, chart: bool = True) -> None:
        self.unseen_classes = None if unseen_classes is None else list(unseen_classes)
        self.chart = chart
        self._wrapped: list[PerClassMetric] = []

    def before_test(self, runner) -> None:
        """Wraps every metric that has per-class scores (others are left as they are)."""
        metrics = runner.test_evaluator.metrics
        self._wrapped = []
        for index, metric in enumerate(metrics):
            if isinstance(metric, PerClassMetric):
                self._wrapped.append(metric)
            elif supports_per_class(metric):
                metrics[index] = PerClassMetric(metric)
                self._wrapped.append(metrics[index])
            else:
                print_log(f'per-class results: {type(metric).__name__} has none; skipped',
                          logger='current')

    def after_test_epoch(self, runner, metrics: dict | None = None) -> None:
        """Logs the tables and writes the files of every wrapped metric (main process)."""
        if not is_main_process():
            return
        meta = runner.test_evaluator.dataset_meta or {}
        unseen = self.unseen_classes
        if unseen is None and meta.get('unseen_classes') is not None:
            unseen = list(meta['unseen_classes'])
        for metric in self._wrapped:
            if metric.per_class is None:
                continue
            self.report(metric.per_class, unseen, Path(runner.log_dir))

    def report(self, scores: PerClassScores, unseen: list[str] | None, out_dir: Path) -> None:
        """Logs, writes ``per_class[_<prefix>].csv`` and ``.png`` under ``out_dir``."""
        splits = _splits(scores, unseen)
        stem = 'per_class' + (f'_{scores.prefix.replace("/", "_")}' if scores.prefix else '')
        csv_path = write_per_class_csv(scores, splits, out_dir / f'{stem}.csv')
        summary = f'm{scores.primary} {np.nanmean(scores.scores):.2f}'
        if unseen is not None:
            means = split_means(scores, splits)
            summary += (f', seen {_fmt(means["seen"]) or "-"}, unseen '
                        f'{_fmt(means["unseen"]) or "-"}, h{scores.primary} '
                        f'{_fmt(means["harmonic"]) or "-"}')
        print_log(f'per-class {scores.primary} ({summary}), best first:\n'
                  f'{format_table(scores, splits)}\nwritten: {csv_path}', logger='current')
        if self.chart:
            png = per_class_bar_chart(scores.class_names, scores.scores, splits,
                                      out_dir / f'{stem}.png', scores.primary,
                                      title=f'{scores.primary} per class: {summary}')
            print_log(f'per-class chart: {png}', logger='current')
