"""mmdet's LVIS metric with the official LVIS API under NumPy 2.

The LVIS API's latest release on PyPI (``lvis`` 0.5.3; Gupta et al., "LVIS: A Dataset for Large
Vocabulary Instance Segmentation", CVPR 2019) calls ``np.float`` in ``LVISEval.accumulate``; NumPy
1.24 removed that alias. This metric restores it (as the builtin ``float`` it always was) only
while mmdet's ``LVISMetric`` evaluates, and removes it again; everything else is mmdet's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from mmdet.evaluation.metrics import LVISMetric

from dense_clip.registry import DET_METRICS

__all__ = ['LVISMetricNumpy2', 'numpy_float_alias']


@contextmanager
def numpy_float_alias() -> Iterator[None]:
    """``np.float`` is ``float`` inside the block (if NumPy lacks it); restored afterwards."""
    missing = 'float' not in np.__dict__
    if missing:
        np.float = float  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if missing:
            del np.float


@DET_METRICS.register_module()
class LVISMetricNumpy2(LVISMetric):
    """``LVISMetric`` (federated LVIS AP, APr / APc / APf) that runs under NumPy 2."""

    def compute_metrics(self, results: list) -> dict:
        with numpy_float_alias():
            return super().compute_metrics(results)
