"""The synthetic open-vocabulary benchmark (dense_clip.synthetic) as an mmseg dataset."""

from __future__ import annotations

import colorsys

from mmseg.datasets import BaseSegDataset

from dense_clip.registry import SEG_DATASETS
from dense_clip.synthetic import world


def _palette(num: int) -> list[list[int]]:
    return [[int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618) % 1.0, 0.7, 0.9)]
            for i in range(num)]


@SEG_DATASETS.register_module()
class SyntheticWorldDataset(BaseSegDataset):
    """Images and labels written by ``tools/make_synthetic_dataset.py``.

    Layout: ``img_dir/{train,val}/*.png`` and ``ann_dir/{train,val}/*.png`` (uint8, 0 is
    background, 1..24 the colour x texture categories of :mod:`dense_clip.synthetic.world`).
    """

    METAINFO = dict(
        classes=('background', *(c.name for c in world.categories())),
        palette=_palette(len(world.categories()) + 1),
        # never drawn in training images nor named in captions (read by PerClassResultsHook)
        unseen_classes=tuple(c.name for c in world.categories() if not c.seen),
    )

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
