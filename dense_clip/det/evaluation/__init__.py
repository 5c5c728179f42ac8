"""Open-vocabulary detection metrics (base / novel / all)."""

from .ov_det_metric import OVDetMetric

__all__ = ['OVDetMetric']
