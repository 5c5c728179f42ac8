"""Base class for benchmarks with more than 255 classes, stored as 16-bit label maps."""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

import mmengine.fileio as fileio
from mmseg.datasets import BaseSegDataset

from .loading import UINT16_IGNORE_INDEX


class UInt16SegDataset(BaseSegDataset):
    """A ``BaseSegDataset`` whose labels may exceed 255 and whose ignore value is 65535.

    Differences from ``BaseSegDataset``:

    - ``ignore_index`` defaults to 65535 (``IGNORE_INDEX``), the value MaskFormer's and CAT-Seg's
      converters write for unlabeled pixels; the pipeline must load with ``LoadUInt16Annotations``
      and the evaluator needs ``IoUMetric(ignore_index=65535)``.
    - With ``ann_file=''`` the samples are the label files found under ``seg_map_path`` (as
      detectron2's ``load_sem_seg``, which CAT-Seg uses, pairs them), not every image of
      ``img_path``: PASCAL Context keeps all VOC2010 images in one folder.
    - Class subsets (``metainfo=dict(classes=...)``) map dropped classes to ``IGNORE_INDEX``
      rather than 255, which is a real class here.
    """

    IGNORE_INDEX = UINT16_IGNORE_INDEX

    def __init__(self, ignore_index: int = UINT16_IGNORE_INDEX, **kwargs) -> None:
        super().__init__(ignore_index=ignore_index, **kwargs)

    @classmethod
    def get_label_map(cls, new_classes: Sequence | None = None) -> dict | None:
        """Maps old class ids to ``new_classes`` ids, dropped classes to ``IGNORE_INDEX``."""
        old_classes = cls.METAINFO.get('classes')
        if new_classes is None or old_classes is None or list(new_classes) == list(old_classes):
            return None
        unknown = set(new_classes) - set(old_classes)
        if unknown:
            raise ValueError(f'classes {sorted(unknown)} are not in {cls.__name__}.METAINFO')
        new_classes = list(new_classes)
        return {
            i: new_classes.index(c) if c in new_classes else cls.IGNORE_INDEX
            for i, c in enumerate(old_classes)
        }

    def _update_palette(self) -> list:
        palette = self._metainfo.get('palette', [])
        if self.label_map is None or len(palette) == len(self._metainfo.get('classes', [])):
            return super()._update_palette()
        kept = sorted((new, old) for old, new in self.label_map.items() if new != self.IGNORE_INDEX)
        return [palette[old] for _, old in kept]

    def load_data_list(self) -> list[dict]:
        """Lists samples from ``ann_file`` if given, else from the label files."""
        if self.ann_file and not osp.isdir(self.ann_file):
            return super().load_data_list()
        img_dir = self.data_prefix.get('img_path')
        ann_dir = self.data_prefix.get('seg_map_path')
        if ann_dir is None or not fileio.isdir(ann_dir, backend_args=self.backend_args):
            raise FileNotFoundError(f'{type(self).__name__}: annotation folder {ann_dir} not found')
        data_list = []
        for seg_map in fileio.list_dir_or_file(
            ann_dir,
            list_dir=False,
            suffix=self.seg_map_suffix,
            recursive=True,
            backend_args=self.backend_args,
        ):
            stem = seg_map[: -len(self.seg_map_suffix)]
            data_list.append(
                dict(
                    img_path=osp.join(img_dir, stem + self.img_suffix),
                    seg_map_path=osp.join(ann_dir, seg_map),
                    label_map=self.label_map,
                    reduce_zero_label=self.reduce_zero_label,
                    seg_fields=[],
                )
            )
        return sorted(data_list, key=lambda info: info['img_path'])
