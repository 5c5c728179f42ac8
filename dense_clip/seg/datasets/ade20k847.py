"""ADE20K-Full with 847 classes (ADE-847), in CAT-Seg's layout.

Layout (CAT-Seg datasets/README.md and cat_seg/data/datasets/register_ade20k_847.py; files
written by MaskFormer's datasets/prepare_ade20k_full_sem_seg.py, which
tools/dataset_converters/ade847.py reproduces)::

    ADE20K_2021_17_01/
        images_detectron2/validation/ADE_val_<n>.jpg        # short side resized to <= 512
        annotations_detectron2/validation/ADE_val_<n>.tif   # uint16 train ids, 65535 = unlabeled
"""

from __future__ import annotations

from mmseg.registry import DATASETS

from .class_lists import ClassListMetainfo
from .uint16_seg_dataset import UInt16SegDataset


@DATASETS.register_module()
class ADE20K847Dataset(UInt16SegDataset):
    """ADE20K-847: train ids 0..846 in 16-bit TIFFs, 65535 ignored.

    Args:
        img_suffix: Image suffix. Default '.jpg'.
        seg_map_suffix: Label map suffix. Default '.tif'.
        **kwargs: Passed to :class:`UInt16SegDataset` (``data_root``, ``data_prefix``, ...).
    """

    METAINFO = ClassListMetainfo('ade847', palette_seed=847)

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.tif', **kwargs) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
