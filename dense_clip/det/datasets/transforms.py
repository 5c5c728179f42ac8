"""Data transforms of CLIPSelf's region self-distillation: region boxes and their image crops.

Wu et al., "CLIPSelf: Vision Transformer Distills Itself for Open-Vocabulary Dense Prediction",
ICLR 2024; sampling as in the authors' data code (wusize/CLIPSelf ``src/training/data.py``):

* ``'grid'`` (``GridDistillDataset``): split the image into an m x n grid, (m, n) drawn uniformly
  from the pairs with 1 <= m <= M and ceil(m/2) <= n <= min(2m, M) (``max_split`` M = 6), shuffle
  the cells and keep up to ``max_boxes`` (20); crops are the cells (``crop_scale`` 1).
* ``'boxes'`` (``ProposalDistillDataset``): the image's annotated boxes (a COCO-format proposal
  file loaded as annotations), those with area in [min_size^2, max_size^2] (8, 1024), shuffled,
  up to ``max_boxes``; each crop is the box enlarged 1.5x about its centre, clipped to the image;
  with no valid box, the top-left quarter of the image.

Crops are cut from the ORIGINAL image (before the network input is resized) and resized so their
longer side is ``crop_size`` (bicubic) and padded with black to a centred square (open_clip's
``ResizeMaxSize``, the teacher's preprocessing). The region boxes are stored as ``gt_bboxes`` so
that later Resize / Flip / Pad transforms move them with the image.
"""

from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import PackDetInputs
from mmdet.structures.bbox import HorizontalBoxes
from PIL import Image

from dense_clip.registry import DET_TRANSFORMS

__all__ = ['CLIPSelfCrops', 'PackCLIPSelfInputs', 'grid_choices', 'resize_max_size']

CROP_MODES = ('grid', 'boxes')


def grid_choices(max_split: int) -> list[tuple[int, int]]:
    """The (rows, columns) grids CLIPSelf draws from, in the authors' order."""
    return [(m, n) for m in range(1, max_split + 1)
            for n in range((m + 1) // 2, min(2 * m, max_split) + 1)]


def resize_max_size(crop: np.ndarray, size: int) -> np.ndarray:
    """Resizes an (h, w, 3) uint8 crop so its longer side is ``size`` (bicubic, PIL) and pads
    it with zeros to a centred (size, size, 3) square."""
    h, w = crop.shape[:2]
    scale = size / max(h, w)
    new_h, new_w = max(round(h * scale), 1), max(round(w * scale), 1)
    resized = np.asarray(Image.fromarray(crop).resize((new_w, new_h), Image.BICUBIC))
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top:top + new_h, left:left + new_w] = resized
    return out


@DET_TRANSFORMS.register_module()
class CLIPSelfCrops(BaseTransform):
    """Samples CLIPSelf's region boxes and cuts the teacher's crops (see the module docstring).

    Required keys: ``img`` (original image), and ``gt_bboxes`` in 'boxes' mode.
    Added / replaced: ``gt_bboxes`` (the K region boxes), ``gt_bboxes_labels`` (zeros),
    ``gt_ignore_flags`` (False), ``clipself_crops`` (K, crop_size, crop_size, 3) uint8.

    Args:
        mode: 'grid' or 'boxes'.
        max_split: largest grid side M ('grid').
        max_boxes: regions kept per image.
        crop_size: side of the teacher's input (the CLIP's image size).
        crop_scale: crop enlargement about the box centre (default 1 for 'grid', 1.5 for
            'boxes').
        min_size: 'boxes': smallest sqrt(area) kept, pixels.
        max_size: 'boxes': largest sqrt(area) kept, pixels.
    """

    def __init__(self, mode: str = 'grid', max_split: int = 6, max_boxes: int = 20,
                 crop_size: int = 224, crop_scale: float | None = None, min_size: float = 8,
                 max_size: float = 1024) -> None:
        if mode not in CROP_MODES:
            raise ValueError(f'mode must be one of {CROP_MODES}, got {mode!r}')
        self.mode = mode
        self.choices = grid_choices(max_split)
        self.max_boxes = int(max_boxes)
        self.crop_size = int(crop_size)
        self.crop_scale = float(crop_scale if crop_scale is not None
                                else (1.0 if mode == 'grid' else 1.5))
        self.min_size, self.max_size = float(min_size), float(max_size)

    def _grid_boxes(self, h: int, w: int) -> np.ndarray:
        m, n = self.choices[np.random.randint(len(self.choices))]
        ys, xs = np.linspace(0, h, m + 1), np.linspace(0, w, n + 1)
        cells = np.array([[xs[j], ys[i], xs[j + 1], ys[i + 1]]
                          for i in range(m) for j in range(n)], np.float32)
        return cells[np.random.permutation(len(cells))[:self.max_boxes]]

    def _annotated_boxes(self, results: dict, h: int, w: int) -> np.ndarray:
        boxes = results.get('gt_bboxes')
        boxes = np.zeros((0, 4), np.float32) if boxes is None else np.asarray(
            boxes.numpy() if hasattr(boxes, 'numpy') else boxes, np.float32).reshape(-1, 4)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        keep = (area >= self.min_size ** 2) & (area <= self.max_size ** 2)
        boxes = boxes[keep]
        boxes = boxes[np.random.permutation(len(boxes))[:self.max_boxes]]
        if len(boxes) == 0:  # the authors' fallback: the top-left quarter
            boxes = np.array([[0, 0, w / 4, h / 4]], np.float32)
        return boxes

    def _crop(self, img: np.ndarray, box: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        x0, y0, x1, y1 = box.tolist()
        if self.crop_scale != 1.0:
            cx, cy, half_w, half_h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
            x0, x1 = cx - half_w * self.crop_scale, cx + half_w * self.crop_scale
            y0, y1 = cy - half_h * self.crop_scale, cy + half_h * self.crop_scale
        # PIL's crop with integer bounds, clipped to the image (at least one pixel).
        left, top = int(np.clip(np.floor(x0), 0, w - 1)), int(np.clip(np.floor(y0), 0, h - 1))
        right = int(np.clip(np.ceil(x1), left + 1, w))
        bottom = int(np.clip(np.ceil(y1), top + 1, h))
        return resize_max_size(np.ascontiguousarray(img[top:bottom, left:right]),
                               self.crop_size)

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        boxes = self._grid_boxes(h, w) if self.mode == 'grid' else \
            self._annotated_boxes(results, h, w)
        results['clipself_crops'] = np.stack([self._crop(img, b) for b in boxes])
        results['gt_bboxes'] = HorizontalBoxes(torch.from_numpy(boxes))
        results['gt_bboxes_labels'] = np.zeros(len(boxes), np.int64)
        results['gt_ignore_flags'] = np.zeros(len(boxes), bool)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mode={self.mode!r}, choices={len(self.choices)}, '
                f'max_boxes={self.max_boxes}, crop_size={self.crop_size}, '
                f'crop_scale={self.crop_scale})')


@DET_TRANSFORMS.register_module()
class PackCLIPSelfInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``clipself_crops`` as ``data_sample.crops``:
    (K, 3, crop_size, crop_size) uint8, channels as loaded (BGR)."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        crops = torch.from_numpy(np.ascontiguousarray(results['clipself_crops']))
        packed['data_samples'].crops = crops.permute(0, 3, 1, 2).contiguous()
        return packed
