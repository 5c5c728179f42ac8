"""The base / novel / all metric and LVIS's federated AP on hand-made detections."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import dense_clip.det  # noqa: F401
from dense_clip.det.evaluation import (
    FederatedEval,
    OVDetMetric,
    OVLVISMetric,
    limit_detections_per_image,
)


def gt_file(tmp_path, lvis=False):
    """Two images, three categories ('a' base, 'b' base, 'c' novel), one box each."""
    images = [dict(id=1, file_name='1.png', height=100, width=100),
              dict(id=2, file_name='2.png', height=100, width=100)]
    anns = [dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 30, 30], area=900.0),
            dict(id=2, image_id=1, category_id=3, bbox=[50, 50, 30, 30], area=900.0),
            dict(id=3, image_id=2, category_id=2, bbox=[20, 20, 40, 40], area=1600.0)]
    cats = [dict(id=1, name='a'), dict(id=2, name='b'), dict(id=3, name='c')]
    for ann in anns:
        if not lvis:  # LVIS annotations have no 'iscrowd'
            ann['iscrowd'] = 0
    if lvis:
        for cat, freq in zip(cats, 'fcr'):
            cat['frequency'] = freq
        images[0].update(neg_category_ids=[2], not_exhaustive_category_ids=[])
        images[1].update(neg_category_ids=[], not_exhaustive_category_ids=[2])
    path = tmp_path / ('lvis.json' if lvis else 'coco.json')
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return path


META = dict(classes=('a', 'b', 'c'), base_classes=('a', 'b'), novel_classes=('c',))


def sample(img_id, boxes, scores, labels):
    return dict(img_id=img_id, ori_shape=(100, 100),
                pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32),
                                    scores=torch.tensor(scores), labels=torch.tensor(labels)))


def test_ov_metric_splits_base_and_novel(tmp_path):
    init_default_scope('mmdet')
    metric = OVDetMetric(ann_file=str(gt_file(tmp_path)), metric='bbox')
    metric.dataset_meta = META
    # 'a' and 'b' found, the novel 'c' box labelled 'a' (a false positive of 'a', ranked last)
    metric.process({}, [sample(1, [[10, 10, 40, 40], [50, 50, 80, 80]], [0.9, 0.3], [0, 0])])
    metric.process({}, [sample(2, [[20, 20, 60, 60]], [0.8], [1])])
    out = metric.evaluate(2)
    assert out['coco/base_ap50'] == pytest.approx(1.0)
    assert out['coco/novel_ap50'] == pytest.approx(0.0)
    assert out['coco/all_ap50'] == pytest.approx(2 / 3, abs=1e-3)


def test_ov_metric_needs_the_split(tmp_path):
    metric = OVDetMetric(ann_file=str(gt_file(tmp_path)), metric='bbox')
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric.process({}, [sample(1, [[10, 10, 40, 40]], [0.9], [0])])
    with pytest.raises(ValueError, match='base_classes'):
        metric.evaluate(1)


def lvis_eval(path, dets, iou_type='bbox'):
    from pycocotools.coco import COCO

    coco = COCO(str(path))
    evaluator = FederatedEval(coco, coco.loadRes(dets), iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
    return evaluator.eval['precision']


def test_federated_rules(tmp_path):
    path = gt_file(tmp_path, lvis=True)
    hits = [dict(image_id=1, category_id=1, bbox=[10, 10, 30, 30], score=0.9),
            dict(image_id=1, category_id=3, bbox=[50, 50, 30, 30], score=0.9),
            dict(image_id=2, category_id=2, bbox=[20, 20, 40, 40], score=0.9)]
    clean = lvis_eval(path, hits)
    assert np.allclose(clean[:, :, :, 0, -1], 1.0)
    # rule 1: a category neither annotated nor negative in the image is not evaluated there
    unverified = hits + [dict(image_id=2, category_id=1, bbox=[0, 0, 10, 10], score=0.99)]
    assert np.array_equal(lvis_eval(path, unverified), clean)
    # a negative category's detection is a false positive
    negative = hits + [dict(image_id=1, category_id=2, bbox=[0, 0, 10, 10], score=0.99)]
    assert lvis_eval(path, negative)[0, :, 1, 0, -1].mean() < 1.0
    # rule 2: unmatched detections of a not-exhaustive category are ignored
    not_exhaustive = hits + [dict(image_id=2, category_id=2, bbox=[70, 70, 20, 20], score=0.99)]
    assert np.array_equal(lvis_eval(path, not_exhaustive), clean)
    # rule 3: at most max_dets per image, best first
    many = [dict(image_id=1, category_id=1, bbox=[0, 0, 5, 5], score=s / 10) for s in range(5)]
    assert [d['score'] for d in limit_detections_per_image(many, 2)] == [0.4, 0.3]


def test_lvis_metric_reports_rare_and_novel(tmp_path):
    init_default_scope('mmdet')
    metric = OVLVISMetric(ann_file=str(gt_file(tmp_path, lvis=True)), metric=['bbox'])
    metric.dataset_meta = META
    metric.process({}, [sample(1, [[10, 10, 40, 40]], [0.9], [0])])  # the rare 'c' missed
    metric.process({}, [sample(2, [[20, 20, 60, 60]], [0.8], [1])])
    out = metric.evaluate(2)
    assert out['lvis/bbox_APr'] == pytest.approx(0.0) and out['lvis/bbox_novel_ap'] == 0.0
    assert out['lvis/bbox_APf'] == pytest.approx(1.0) and out['lvis/bbox_base_ap'] == 1.0
