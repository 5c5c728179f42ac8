"""PASCAL VOC 2012 without its background class (VOC20), as SCLIP, NACLIP and ClearCLIP evaluate it.

Same files as mmseg's ``PascalVOCDataset`` (``JPEGImages/*.jpg``, ``SegmentationClass/*.png`` with
0 = background, 1..20 = objects, 255 = boundary, ``ImageSets/Segmentation/val.txt``); background is
ignored through ``reduce_zero_label=True`` (SCLIP custom_datasets.py, PascalVOC20Dataset).
"""

from __future__ import annotations

import os.path as osp

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset, PascalVOCDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class PascalVOC20Dataset(BaseSegDataset):
    """VOC20: the 20 VOC object classes; background and boundary pixels are ignored (255).

    Args:
        ann_file: Split file listing image ids, e.g. 'ImageSets/Segmentation/val.txt'.
        img_suffix: Image suffix. Default '.jpg'.
        seg_map_suffix: Label map suffix. Default '.png'.
        reduce_zero_label: Whether label 0 (background) becomes 255 and 1..20 become 0..19.
            Default True; the benchmark is defined with it.
        **kwargs: Passed to ``BaseSegDataset``.
    """

    METAINFO = dict(
        classes=PascalVOCDataset.METAINFO['classes'][1:],
        palette=PascalVOCDataset.METAINFO['palette'][1:],
    )

    def __init__(
        self,
        ann_file: str,
        img_suffix: str = '.jpg',
        seg_map_suffix: str = '.png',
        reduce_zero_label: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(
            ann_file=ann_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs,
        )
        if not fileio.exists(self.data_prefix['img_path'], self.backend_args):
            raise FileNotFoundError(f'VOC20: image folder {self.data_prefix["img_path"]} not found')
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'VOC20: split file {self.ann_file} not found')
