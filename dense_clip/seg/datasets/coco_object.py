"""COCO-Object: COCO 2017 val with background + the 80 thing classes.

Layout of SCLIP/NACLIP (configs/cfg_coco_object.py), files written by GroupViT's
convert_dataset/convert_coco_object.py (tools/dataset_converters/coco_object.py here)::

    coco_stuff164k/
        images/val2017/<id>.jpg
        annotations/val2017/<id>_instanceTrainIds.png   # 0 = background (stuff, unlabeled), 1..80

There is no ignored label: unlabeled pixels count as background.
"""

from __future__ import annotations

from mmseg.datasets import BaseSegDataset, COCOStuffDataset
from mmseg.registry import DATASETS

# COCO-Stuff's class list starts with the 80 things in COCO category-id order.
_THINGS = COCOStuffDataset.METAINFO['classes'][:80]
_THING_PALETTE = COCOStuffDataset.METAINFO['palette'][:80]


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """COCO-Object, 81 classes: 0 = background, 1..80 = COCO things in category-id order.

    Args:
        img_suffix: Image suffix. Default '.jpg'.
        seg_map_suffix: Label map suffix. Default '_instanceTrainIds.png'.
        **kwargs: Passed to ``BaseSegDataset``.
    """

    METAINFO = dict(
        classes=('background',) + tuple(_THINGS),
        palette=[[0, 0, 0]] + [list(c) for c in _THING_PALETTE],
    )

    def __init__(
        self, img_suffix: str = '.jpg', seg_map_suffix: str = '_instanceTrainIds.png', **kwargs
    ) -> None:
        kwargs.setdefault('reduce_zero_label', False)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
