"""mmseg's visualisation hook writing every test image to one folder (``--show-dir``)."""

from __future__ import annotations

import os.path as osp
from collections.abc import Sequence
from pathlib import Path

from mmengine import fileio
from mmseg.engine.hooks import SegVisualizationHook

from dense_clip.registry import SEG_HOOKS
from dense_clip.seg.transforms import read_image_rgb


@SEG_HOOKS.register_module()
class SegShowDirHook(SegVisualizationHook):
    """Draws test predictions through the runner's visualizer, one file per image.

    Differs from ``SegVisualizationHook`` in where pictures go: with ``out_dir`` each test
    image becomes ``out_dir/<image stem>.png`` (mmdet's ``test_out_dir`` behaviour) instead
    of the vis backends' ``vis_data/vis_image/<name>_<step>.png``. Images are read with
    dense_clip's checked loader (16-bit, palette and CMYK files, as the test pipeline does).

    Args:
        draw: Whether to draw at all.
        interval: Draw every ``interval``-th batch.
        show: Open a window per image.
        wait_time: Seconds each window stays (0: until a key is pressed).
        out_dir: Folder for the pictures (created); None hands them to the vis backends.
        backend_args: mmengine file backend arguments for reading images.
    """

    def __init__(self, draw: bool = True, interval: int = 1, show: bool = False,
                 wait_time: float = 0.0, out_dir: str | None = None,
                 backend_args: dict | None = None) -> None:
        super().__init__(draw=draw, interval=interval, show=show, wait_time=wait_time,
                         backend_args=backend_args)
        self.out_dir = out_dir

    def _after_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence,
                    mode: str = 'val') -> None:
        if self.draw is False or mode == 'train':
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        for output in outputs:
            img_path = output.img_path
            image = read_image_rgb(fileio.get(img_path, backend_args=self.backend_args),
                                   img_path)
            out_file = None
            if self.out_dir is not None:
                Path(self.out_dir).mkdir(parents=True, exist_ok=True)
                out_file = osp.join(self.out_dir, Path(img_path).stem + '.png')
            self._visualizer.add_datasample(
                f'{mode}_{osp.basename(img_path)}', image, data_sample=output, show=self.show,
                wait_time=self.wait_time, out_file=out_file, step=runner.iter)
