"""Bar charts of per-class scores (matplotlib's Agg canvas; no display, no global backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ['SPLIT_COLOURS', 'per_class_bar_chart']

# split -> bar colour; '' is a data set without a seen / unseen split.
SPLIT_COLOURS = {'seen': '#3b6fb6', 'unseen': '#e07b39', '': '#6f6f6f'}


def per_class_bar_chart(class_names: list[str], scores: np.ndarray, splits: list[str],
                        out_path: str | Path, score_name: str = 'IoU',
                        title: str = '') -> Path:
    """Writes a horizontal bar chart of per-class scores, best first, as a PNG.

    Args:
        class_names: One name per class.
        scores: (num_classes,) float scores in percent, 0-100; NaN classes (absent from the
            data) are left out of the chart.
        splits: One of ``SPLIT_COLOURS``' keys per class (``'seen'``, ``'unseen'`` or ``''``).
        out_path: PNG file to write (folders are created).
        score_name: Axis label, e.g. ``'IoU'`` or ``'AP'``.
        title: Figure title.

    Returns:
        The written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    unknown = sorted(set(splits) - set(SPLIT_COLOURS))
    if unknown:
        raise ValueError(f'unknown split names {unknown}; valid: {sorted(SPLIT_COLOURS)}')
    scores = np.asarray(scores, np.float64)
    order = [i for i in np.argsort(-np.nan_to_num(scores, nan=-1.0), kind='stable')
             if not np.isnan(scores[i])]
    height = min(600.0, max(2.5, 0.6 + 0.2 * len(order)))  # inches; matplotlib caps pixels
    figure = Figure(figsize=(7.5, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows = np.arange(len(order))
    axes.barh(rows, scores[order], color=[SPLIT_COLOURS[splits[i]] for i in order], height=0.8)
    axes.set_yticks(rows, [class_names[i] for i in order], fontsize=8)
    if any(splits):  # names coloured too, so zero-length bars keep their split
        for label, i in zip(axes.get_yticklabels(), order):
            label.set_color(SPLIT_COLOURS[splits[i]])
    axes.invert_yaxis()  # best at the top
    axes.set_xlim(0, 100)
    axes.set_xlabel(f'{score_name} (%)')
    axes.grid(axis='x', alpha=0.3)
    for row, i in zip(rows, order):
        axes.text(min(scores[i], 88.0) + 1, row, f'{scores[i]:.1f}', va='center', fontsize=7)
    present = [s for s in ('seen', 'unseen') if s in splits]
    if present:
        axes.legend(handles=[Patch(color=SPLIT_COLOURS[s], label=s) for s in present],
                    loc='lower right', fontsize=8)
    if title:
        axes.set_title(title, fontsize=10)
    figure.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path)
    return out_path
