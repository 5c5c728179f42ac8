"""LVIS's federated AP on top of pycocotools' COCOeval.

The LVIS protocol (Gupta et al., "LVIS: A Dataset for Large Vocabulary Instance Segmentation",
CVPR 2019, and its evaluation API ``lvis/eval.py``) differs from COCO's in three rules, which are
the only changes here:

1. an image is evaluated only for the categories verified in it: those with annotations
   (positive) and its ``neg_category_ids``; detections of any other category are discarded;
2. for the image's ``not_exhaustive_category_ids``, detections that match no annotation are
   ignored (neither true nor false positives);
3. at most ``max_dets`` (300) detections per image, the highest-scoring over all categories.

AP is then COCO's (101 recall points, IoU 0.50:0.95), averaged over categories with annotations;
APr / APc / APf average over the rare / common / frequent categories (``frequency`` field).
The official ``lvis`` package is not used: its PyPI release (0.5.3) uses ``np.float``, removed in
NumPy 2.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from pycocotools.cocoeval import COCOeval

__all__ = ['FederatedEval', 'limit_detections_per_image', 'summarize_precision']


def limit_detections_per_image(detections: list[dict], max_dets: int) -> list[dict]:
    """Keeps the ``max_dets`` highest-scoring detections of every image (rule 3)."""
    by_image: dict[int, list[dict]] = defaultdict(list)
    for det in detections:
        by_image[det['image_id']].append(det)
    kept = []
    for dets in by_image.values():
        kept += sorted(dets, key=lambda d: -d['score'])[:max_dets]
    return kept


class FederatedEval(COCOeval):
    """COCOeval with LVIS's federated rules 1 and 2 (apply rule 3 to the detections first).

    Args:
        coco_gt: ground truth (a pycocotools ``COCO`` of an LVIS-format file: images carry
            ``neg_category_ids`` and ``not_exhaustive_category_ids``).
        coco_dt: detections (``coco_gt.loadRes``).
        iou_type: 'bbox' or 'segm'.
        max_dets: detections per image (LVIS: 300).
    """

    def __init__(self, coco_gt, coco_dt, iou_type: str = 'bbox', max_dets: int = 300) -> None:
        super().__init__(coco_gt, coco_dt, iou_type)
        self.params.maxDets = [max_dets]
        self._negative = {i: set(img.get('neg_category_ids', [])) for i, img in
                          coco_gt.imgs.items()}
        self._not_exhaustive = {i: set(img.get('not_exhaustive_category_ids', [])) for i, img in
                                coco_gt.imgs.items()}

    def _prepare(self) -> None:
        super()._prepare()
        positive: dict[int, set] = defaultdict(set)
        for (image, category), gts in self._gts.items():
            for gt in gts:  # LVIS has no crowd annotations and no 'iscrowd' key
                gt.setdefault('iscrowd', 0)
            if gts:
                positive[image].add(category)
        for (image, category) in list(self._dts):
            if category not in positive[image] and category not in self._negative.get(image, ()):
                self._dts[(image, category)] = []  # not verified in this image (rule 1)

    def evaluateImg(self, imgId, catId, aRng, maxDet):  # noqa: N802 (pycocotools' name)
        result = super().evaluateImg(imgId, catId, aRng, maxDet)
        if result is not None and catId in self._not_exhaustive.get(imgId, ()):
            unmatched = result['dtMatches'] == 0  # rule 2
            result['dtIgnore'] = np.logical_or(result['dtIgnore'], unmatched)
        return result


def summarize_precision(precision: np.ndarray, cat_ids: list[int], groups: dict[str, set],
                        iou_thrs: np.ndarray) -> dict[str, float]:
    """AP numbers from COCOeval's precision array (T, R, K, A, M).

    Args:
        precision: ``eval['precision']`` (-1 where a category has no annotation).
        cat_ids: the category id of each K index.
        groups: name -> category ids (e.g. 'r', 'c', 'f', 'base', 'novel').
        iou_thrs: the T IoU thresholds.

    Returns:
        AP, AP50, AP75, APs, APm, APl and AP<name> per group (-1 where nothing is valid).
    """
    def mean(values: np.ndarray) -> float:
        valid = values[values > -1]
        return float(np.mean(valid)) if valid.size else -1.0

    out = {'AP': mean(precision[:, :, :, 0, -1])}
    for name, thr in (('AP50', 0.5), ('AP75', 0.75)):
        index = int(np.argmin(np.abs(iou_thrs - thr)))
        out[name] = mean(precision[index, :, :, 0, -1])
    for area, name in ((1, 'APs'), (2, 'APm'), (3, 'APl')):
        out[name] = mean(precision[:, :, :, area, -1])
    for name, ids in groups.items():
        index = [k for k, cat in enumerate(cat_ids) if cat in ids]
        out[f'AP{name}'] = mean(precision[:, :, index, 0, -1]) if index else -1.0
    return out
