"""COCO-style box / mask AP split into base, novel and all classes (OV-COCO's protocol).

Wraps mmdet's ``OVCocoMetric`` (``base_ap``, ``novel_ap``, ``base_ap50``, ``novel_ap50`` from the
COCOeval precision array, on the dataset's ``base_classes`` / ``novel_classes``) and adds
``all_ap50`` (the AP50 over every evaluated class, COCOeval's ``mAP_50``). The per-class means
follow F-ViT's evaluation (wusize/CLIPSelf ``F-ViT/datasets/coco_ov.py``): precision at IoU 0.5,
all areas, the largest ``maxDets`` (``proposal_nums[-1]``), averaged over recall points and
classes with ground truth. Values are fractions (0-1), like mmdet's; the README reports percent.
"""

from __future__ import annotations

from collections import OrderedDict

from mmdet.evaluation.metrics import OVCocoMetric

from dense_clip.registry import DET_METRICS

__all__ = ['OVDetMetric']


@DET_METRICS.register_module()
class OVDetMetric(OVCocoMetric):
    """``OVCocoMetric`` plus ``all_ap50``; needs ``base_classes`` / ``novel_classes`` in the
    dataset's metainfo (:class:`~dense_clip.det.datasets.OVCocoDataset` sets them).

    Args:
        **kwargs: mmdet ``CocoMetric`` arguments (``ann_file``, ``metric``, ...).
    """

    def compute_metrics(self, results: list) -> dict[str, float]:
        meta = self.dataset_meta or {}
        missing = [k for k in ('base_classes', 'novel_classes') if k not in meta]
        if missing:
            raise ValueError(f'OVDetMetric needs {missing} in the dataset metainfo; use '
                             'OVCocoDataset (or another dataset with a class split)')
        metrics = super().compute_metrics(results)
        out = OrderedDict()
        for key, value in metrics.items():
            out[key] = float(value) if isinstance(value, (int, float)) or hasattr(
                value, 'item') else value
        for metric in self.metrics:
            if f'{metric}_mAP_50' in out:
                prefix = '' if metric == 'bbox' else f'{metric}_'
                out[f'{prefix}all_ap50'] = out[f'{metric}_mAP_50']
        return out
