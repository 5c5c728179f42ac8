"""PASCAL Context with its full 459-class label set (PC-459), in CAT-Seg's layout.

Layout (CAT-Seg datasets/README.md, labels from its datasets/prepare_pascal_context_459.py, which
tools/dataset_converters/pascal_context459.py reproduces)::

    VOCdevkit/VOC2010/
        JPEGImages/<id>.jpg
        annotations_detectron2/pc459_val/<id>.tif   # uint16: LabelMap - 1, 65535 = unlabeled

CAT-Seg evaluates the 5105 images of ``pascalcontext_val.txt`` that have a 459-class annotation.
"""

from __future__ import annotations

from mmseg.registry import DATASETS

from .class_lists import ClassListMetainfo
from .uint16_seg_dataset import UInt16SegDataset


@DATASETS.register_module()
class PascalContext459Dataset(UInt16SegDataset):
    """PASCAL Context 459 classes, labels 0..458 in 16-bit TIFFs, 65535 ignored.

    Args:
        img_suffix: Image suffix. Default '.jpg'.
        seg_map_suffix: Label map suffix. Default '.tif'.
        **kwargs: Passed to :class:`UInt16SegDataset` (``data_root``, ``data_prefix``, ...).
    """

    METAINFO = ClassListMetainfo('context459', palette_seed=459)

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.tif', **kwargs) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
