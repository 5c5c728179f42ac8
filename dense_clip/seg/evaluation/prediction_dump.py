"""Writes predicted label maps as PNG files, mmseg's ``--out`` format, for any class count."""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from PIL import Image

from dense_clip.registry import SEG_METRICS


@SEG_METRICS.register_module()
class SegPredictionDump(BaseMetric):
    """Saves each test image's predicted label map as ``out_dir/<image stem>.png``.

    The format of mmseg's ``tools/test.py --out DIR`` (``IoUMetric(output_dir=...)``): one
    single-channel PNG per image at the image's size, values = class indices (+1 where the
    data set uses ``reduce_zero_label``, as mmseg). mmseg writes uint8 and so wraps class
    indices above 255; this writes uint16 PNGs when the data set has more than 255 classes
    (ADE-847, PC-459) and uint8 otherwise. Adds no metric.

    Args:
        out_dir: Folder to write (created).
    """

    default_prefix = 'dump'  # returns no metric; set to keep mmengine's prefix warning away

    def __init__(self, out_dir: str, collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device)
        self.out_dir = Path(out_dir)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Writes the batch's label maps (every rank writes its own images)."""
        num_classes = len((self.dataset_meta or {}).get('classes', ())) or 256
        dtype = np.uint8 if num_classes + 1 <= 256 else np.uint16
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for sample in data_samples:
            labels = sample['pred_sem_seg']['data'].squeeze().cpu().numpy().astype(np.int64)
            if sample.get('reduce_zero_label', False):
                labels = labels + 1
            stem = osp.splitext(osp.basename(sample['img_path']))[0]
            Image.fromarray(labels.astype(dtype)).save(self.out_dir / f'{stem}.png')
        self.results.append(len(data_samples))

    def compute_metrics(self, results: list) -> dict:
        """Logs where the maps went; returns no metric."""
        if is_main_process():
            print_log(f'wrote {sum(results)} predicted label maps to {self.out_dir}',
                      logger='current')
        return {}
