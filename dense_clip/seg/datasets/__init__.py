"""Benchmark datasets mmseg lacks, and a loader for 16-bit label maps.

mmseg's own types cover the rest: ``PascalVOCDataset`` (VOC21), ``PascalContextDataset`` (PC60),
``PascalContextDataset59`` (PC59), ``COCOStuffDataset`` (171), ``CityscapesDataset`` and
``ADE20KDataset`` (150). Base configs for all ten benchmarks: configs/_base_/datasets/ov_*.py.
"""

from .ade20k847 import ADE20K847Dataset
from .coco_object import COCOObjectDataset
from .loading import UINT16_IGNORE_INDEX, LoadUInt16Annotations, read_uint16_label_map
from .pascal_context459 import PascalContext459Dataset
from .pascal_voc20 import PascalVOC20Dataset
from .synthetic import SyntheticWorldDataset
from .uint16_seg_dataset import UInt16SegDataset

__all__ = [
    'ADE20K847Dataset',
    'COCOObjectDataset',
    'LoadUInt16Annotations',
    'PascalContext459Dataset',
    'PascalVOC20Dataset',
    'SyntheticWorldDataset',
    'UINT16_IGNORE_INDEX',
    'UInt16SegDataset',
    'read_uint16_label_map',
]
