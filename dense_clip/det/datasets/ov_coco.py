"""COCO-format detection sets with a base / novel class split (OV-COCO, the synthetic world).

Classes come from a :class:`~dense_clip.det.class_split.ClassSplit`, which also names the base
and novel classes for :class:`~dense_clip.det.evaluation.OVDetMetric`. Training sets can keep
only base-class annotations (``keep_classes='base'``), as OV-COCO training files do
(``instances_train2017_seen_2_65_cat.json``, distributed with OVR-CNN and F-ViT).

Proposals: ``proposal_file`` may be a COCO-format JSON (a list of ``{"image_id", "bbox": [x, y, w,
h], "score"}``, the format of detection results and of RegionCLIP-style proposal dumps) or mmdet's
pickle (``{file name: {"bboxes", "scores"}}``); they are attached to each image in its original
pixel frame and read by mmdet's ``LoadProposals`` transform.
"""

from __future__ import annotations

import json
import logging
import os.path as osp
from collections import defaultdict

import numpy as np
from mmdet.datasets import CocoDataset
from mmengine.logging import print_log

from dense_clip.registry import DET_DATASETS

from ..class_split import load_class_split

__all__ = ['OVCocoDataset', 'OVLVISDataset', 'check_category_order', 'lvis_file_name',
           'read_coco_proposals']

KEEP_CLASSES = ('all', 'base')


def check_category_order(file_names: list[str], classes: tuple[str, ...], ann_file: str) -> None:
    """Fails unless the split's classes are categories of the file, in the file's order.

    mmdet labels an instance by the position of its category among the file's categories that
    are in ``metainfo['classes']``, not by its position in ``metainfo['classes']``: a missing or
    reordered category would silently mislabel instances. Extra categories in the file are
    allowed (their annotations are skipped).
    """
    wanted = set(classes)
    in_file = [name for name in file_names if name in wanted]
    if in_file == list(classes):
        return
    missing = [c for c in classes if c not in set(file_names)]
    if missing:
        raise ValueError(f'{ann_file}: categories {missing[:5]} of the class split are not in '
                         f'the annotation file ({len(missing)} missing)')
    raise ValueError(f"{ann_file}: the annotation file lists the split's classes in another "
                     'order; the class split must follow the category ids of the file')


def lvis_file_name(info: dict, ann_file: str) -> dict:
    """Gives an LVIS image record (no ``file_name``) the last two parts of its ``coco_url``
    (``val2017/000000397133.jpg``) as ``file_name``; COCO records are returned unchanged."""
    if 'file_name' not in info:
        if 'coco_url' not in info:
            raise ValueError(f"{ann_file}: image {info.get('id')} has neither file_name nor "
                             'coco_url')
        info['file_name'] = '/'.join(info['coco_url'].split('/')[-2:])
    return info


def read_coco_proposals(path: str) -> dict[int, dict[str, np.ndarray]]:
    """Reads COCO-format proposals: image id -> dict(bboxes (N, 4) xyxy, scores (N,)), sorted by
    descending score.

    Raises:
        ValueError: not a list of records with ``image_id``, 4-number ``bbox`` and ``score``.
    """
    with open(path, encoding='utf-8') as f:
        records = json.load(f)
    if not isinstance(records, list):
        raise ValueError(f'{path}: a COCO-format proposal file is a list of records, got '
                         f'{type(records).__name__}')
    boxes: dict[int, list] = defaultdict(list)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or 'image_id' not in rec or 'bbox' not in rec \
                or len(rec['bbox']) != 4:
            raise ValueError(f'{path}: record {i} needs image_id and bbox [x, y, w, h], got '
                             f'{rec!r:.200}')
        x, y, w, h = (float(v) for v in rec['bbox'])
        boxes[int(rec['image_id'])].append((x, y, x + w, y + h, float(rec.get('score', 1.0))))
    out = {}
    for image_id, rows in boxes.items():
        array = np.asarray(rows, np.float32)
        order = np.argsort(-array[:, 4], kind='stable')
        out[image_id] = dict(bboxes=array[order, :4], scores=array[order, 4])
    return out


@DET_DATASETS.register_module()
class OVCocoDataset(CocoDataset):
    """A COCO-format set whose classes and base / novel split come from a class split.

    Args:
        class_split: a shipped split name ('ov_coco', 'synthetic', ...), a JSON path or a dict.
        keep_classes: 'all' or 'base' (drop novel-class annotations, for training).
        proposal_file: COCO-format JSON or mmdet pickle of proposals (see module docstring).
        **kwargs: :class:`mmdet.datasets.CocoDataset` arguments (``metainfo`` may add keys but
            its ``classes`` must equal the split's).
    """

    def __init__(self, *args, class_split: str | dict = 'ov_coco', keep_classes: str = 'all',
                 **kwargs) -> None:
        if keep_classes not in KEEP_CLASSES:
            raise ValueError(f'keep_classes must be one of {KEEP_CLASSES}, got {keep_classes!r}')
        self.class_split = load_class_split(class_split)
        self.keep_classes = keep_classes
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        given = metainfo.get('classes')
        if given is not None and tuple(given) != self.class_split.classes:
            raise ValueError(f'metainfo classes disagree with class split '
                             f'{self.class_split.name!r}; set the classes through the split')
        metainfo.update(self.class_split.metainfo())
        super().__init__(*args, metainfo=metainfo, **kwargs)

    def load_data_list(self) -> list[dict]:
        recorded: dict = {}
        api = type(self).COCOAPI

        def recording_api(path: str):  # mmdet drops its COCO object after loading
            coco = api(path)
            recorded['cats'] = coco.cats
            return coco

        self.COCOAPI = recording_api
        try:
            data_list = super().load_data_list()
        finally:
            del self.COCOAPI
        cats = recorded['cats']
        file_names = [cats[i]['name'] for i in sorted(cats)]
        check_category_order(file_names, self.class_split.classes, self.ann_file)
        if self.keep_classes == 'base':
            novel = {i for i, flag in enumerate(self.class_split.is_novel()) if flag}
            dropped = 0
            for info in data_list:
                kept = [inst for inst in info['instances'] if inst['bbox_label'] not in novel]
                dropped += len(info['instances']) - len(kept)
                info['instances'] = kept
            if dropped:
                print_log(f'{self.ann_file}: dropped {dropped} novel-class annotations '
                          "(keep_classes='base')", logger='current', level=logging.INFO)
        return data_list

    def load_proposals(self) -> None:
        """Attaches ``proposals`` (dict(bboxes, scores), original pixels) to every image."""
        path = self.proposal_file
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        if not osp.isfile(path):
            raise FileNotFoundError(f'proposal file not found: {path}')
        if not path.endswith('.json'):
            super().load_proposals()
            return
        proposals = read_coco_proposals(path)
        empty = dict(bboxes=np.zeros((0, 4), np.float32), scores=np.zeros((0,), np.float32))
        missing = 0
        for info in self.data_list:
            found = proposals.get(int(info['img_id']))
            missing += found is None
            info['proposals'] = found if found is not None else empty
        if missing:
            print_log(f'{path}: {missing} of {len(self.data_list)} images have no proposals '
                      '(they get no detections)', logger='current', level=logging.WARNING)


@DET_DATASETS.register_module()
class OVLVISDataset(OVCocoDataset):
    """LVIS v1 with a class split (default ``ov_lvis``: novel = the 337 rare categories).

    LVIS images have no ``file_name``: the path is the last two parts of ``coco_url``
    (``val2017/000000397133.jpg``) under ``data_prefix['img']`` (the COCO images folder).
    Training on frequent + common is ``keep_classes='base'``.
    """

    def __init__(self, *args, class_split: str | dict = 'ov_lvis', **kwargs) -> None:
        super().__init__(*args, class_split=class_split, **kwargs)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        lvis_file_name(raw_data_info['raw_img_info'], self.ann_file)
        return super().parse_data_info(raw_data_info)
