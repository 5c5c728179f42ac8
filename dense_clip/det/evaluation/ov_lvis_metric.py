"""OV-LVIS evaluation: LVIS federated box / mask AP with rare (novel), common and frequent splits.

ViLD's OV-LVIS protocol, used by F-ViT (wusize/CLIPSelf ``F-ViT/configs/ov_lvis/*``,
``evaluation = dict(metric=['segm'])`` through mmdet's LVIS evaluation): train on frequent +
common categories, report mask AP on rare ones (APr) and over all (AP); box APs are reported too.
The federated rules are implemented in :mod:`.lvis_federated` (pycocotools underneath).
"""

from __future__ import annotations

import os.path as osp
import tempfile
from collections import OrderedDict

from mmdet.evaluation.metrics import CocoMetric
from mmengine.fileio import load
from mmengine.logging import MMLogger

from dense_clip.registry import DET_METRICS

from .lvis_federated import FederatedEval, limit_detections_per_image, summarize_precision

__all__ = ['OVLVISMetric']


@DET_METRICS.register_module()
class OVLVISMetric(CocoMetric):
    """LVIS federated AP (AP, AP50, AP75, APs/m/l, APr, APc, APf) plus ``novel_ap`` / ``base_ap``
    on the dataset's class split, for ``bbox`` and / or ``segm``.

    Args:
        ann_file: the LVIS-format annotation file (``lvis_v1_val.json``).
        metric: 'bbox', 'segm' or both.
        max_dets: detections kept per image (LVIS: 300).
        **kwargs: other ``CocoMetric`` arguments.
    """

    default_prefix = 'lvis'

    def __init__(self, ann_file: str, metric=('bbox', 'segm'), max_dets: int = 300,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, metric=list(metric) if not isinstance(metric, str)
                         else metric, **kwargs)
        self.max_dets = int(max_dets)

    def compute_metrics(self, results: list) -> dict[str, float]:
        logger = MMLogger.get_current_instance()
        _, preds = zip(*results)
        coco = self._coco_api
        classes = self.dataset_meta['classes']
        self.cat_ids = coco.get_cat_ids(cat_names=classes)
        if len(self.cat_ids) != len(classes):
            raise ValueError(f'{self.ann_file}: {len(classes) - len(self.cat_ids)} dataset '
                             'classes are not categories of the annotation file')
        image_ids = sorted({int(p['img_id']) for p in preds})
        cats = coco.cats
        groups = {f: {c for c in self.cat_ids if cats[c].get('frequency') == f}
                  for f in ('r', 'c', 'f')}
        novel_names = set(self.dataset_meta.get('novel_classes', ()))
        groups['novel'] = {c for c in self.cat_ids if cats[c]['name'] in novel_names}
        groups['base'] = set(self.cat_ids) - groups['novel']
        with tempfile.TemporaryDirectory() as tmp:
            prefix = self.outfile_prefix or osp.join(tmp, 'results')
            files = self.results2json(preds, prefix)
            out = OrderedDict()
            for metric in self.metrics:
                dets = load(files[metric])
                if metric == 'segm':
                    for det in dets:  # mask areas, as LVIS and mmdet evaluate masks
                        det.pop('bbox', None)
                dets = limit_detections_per_image(dets, self.max_dets)
                if not dets:
                    logger.error(f'no {metric} detections to evaluate')
                    continue
                evaluator = FederatedEval(coco, coco.loadRes(dets), metric, self.max_dets)
                evaluator.params.catIds = self.cat_ids
                evaluator.params.imgIds = image_ids
                evaluator.evaluate()
                evaluator.accumulate()
                stats = summarize_precision(evaluator.eval['precision'],
                                            list(evaluator.params.catIds), groups,
                                            evaluator.params.iouThrs)
                logger.info(f'{metric}: ' + '  '.join(f'{k} {v:.3f}' for k, v in stats.items()))
                for key, value in stats.items():
                    name = {'APnovel': 'novel_ap', 'APbase': 'base_ap'}.get(key, key)
                    out[f'{metric}_{name}'] = round(value, 4)
        return out
