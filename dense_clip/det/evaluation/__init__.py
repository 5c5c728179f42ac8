"""Open-vocabulary detection metrics (base / novel / all; LVIS federated AP)."""

from .lvis_federated import FederatedEval, limit_detections_per_image, summarize_precision
from .ov_det_metric import OVDetMetric
from .ov_lvis_metric import OVLVISMetric

__all__ = ['FederatedEval', 'OVDetMetric', 'OVLVISMetric', 'limit_detections_per_image',
           'summarize_precision']
