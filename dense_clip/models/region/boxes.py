"""Checking boxes before they are pooled, and packing them as RoIAlign's rois.

Every region consumer (zero-shot box classification, F-ViT's VLM score, CLIPSelf's distillation,
``tools/classify_regions.py``) goes through :func:`check_boxes`, so a bad box gives one error that
names it instead of a silently wrong score: RoIAlign itself happily pools NaN boxes (NaN
features), zero-area boxes (one bilinear sample) and boxes far outside the feature map (zeros).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ['boxes_to_rois', 'check_boxes', 'clip_boxes']


def _describe(box: Tensor) -> str:
    return '(' + ', '.join(f'{v:.6g}' for v in box.tolist()) + ')'


def check_boxes(boxes: Tensor, image_size: tuple[int, int], name: str = 'boxes',
                tolerance: float = 1.0, allow_empty: bool = False) -> Tensor:
    """Validates (N, 4) x1, y1, x2, y2 boxes in the pixel frame of one image.

    Args:
        boxes: (N, 4) float boxes, pixels, x1 <= x2 and y1 <= y2 expected.
        image_size: (H, W) of the image the boxes refer to.
        name: how the boxes are named in error messages (e.g. ``'proposals of image 3'``).
        tolerance: pixels a box may reach past the image border (rounding in box files).
        allow_empty: accept N = 0 (detectors on images without proposals); otherwise an empty
            list is an error.

    Returns:
        ``boxes`` as float32, unchanged otherwise.

    Raises:
        ValueError: wrong shape, empty (unless allowed), NaN / infinite coordinates, zero or
            negative width or height, or a box outside the image (beyond ``tolerance``); the
            message gives the index and coordinates of the first bad box and how many are bad.
    """
    if not isinstance(boxes, Tensor):
        boxes = torch.as_tensor(boxes, dtype=torch.float32)
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f'{name}: expected (N, 4) x1, y1, x2, y2 boxes, got shape '
                         f'{tuple(boxes.shape)}')
    if boxes.shape[0] == 0:
        if allow_empty:
            return boxes.float()
        raise ValueError(f'{name}: the box list is empty; give at least one x1,y1,x2,y2 box')
    boxes = boxes.float()
    height, width = int(image_size[0]), int(image_size[1])
    checks = (
        (~torch.isfinite(boxes).all(dim=1), 'has a NaN or infinite coordinate'),
        ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]),
         'has zero or negative width or height (x2 <= x1 or y2 <= y1)'),
        ((boxes[:, 0] < -tolerance) | (boxes[:, 1] < -tolerance)
         | (boxes[:, 2] > width + tolerance) | (boxes[:, 3] > height + tolerance),
         f'lies (partly) outside the {width}x{height} image'),
    )
    for bad, what in checks:
        if bool(bad.any()):
            index = int(torch.nonzero(bad)[0, 0])
            count = int(bad.sum())
            more = f' ({count} boxes in all)' if count > 1 else ''
            raise ValueError(f'{name}: box {index} {_describe(boxes[index])} {what}{more}')
    return boxes


def clip_boxes(boxes: Tensor, image_size: tuple[int, int], min_size: float = 1e-3
               ) -> tuple[Tensor, Tensor]:
    """Clips boxes to the image and reports which ones keep a positive area.

    The documented fallback of the detectors for boxes read from proposal files (detectron2 and
    mmdet clip proposals the same way); use :func:`check_boxes` where bad boxes are an error.

    Args:
        boxes: (N, 4) x1, y1, x2, y2.
        image_size: (H, W).
        min_size: smallest width and height kept, pixels.

    Returns:
        (clipped boxes (N, 4), keep mask (N,) bool: finite and at least ``min_size`` wide and
        high after clipping).
    """
    height, width = image_size
    finite = torch.isfinite(boxes).all(dim=1)
    boxes = torch.nan_to_num(boxes.float())
    clipped = torch.stack([boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
                           boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)], dim=1)
    keep = finite & (clipped[:, 2] - clipped[:, 0] >= min_size) \
        & (clipped[:, 3] - clipped[:, 1] >= min_size)
    return clipped, keep


def boxes_to_rois(boxes: Sequence[Tensor]) -> Tensor:
    """Stacks per-image (N_i, 4) boxes into RoIAlign's (sum N_i, 5) rois (image index first)."""
    rois = [torch.cat([b.new_full((b.shape[0], 1), float(i)), b.float()], dim=1)
            for i, b in enumerate(boxes)]
    if not rois:
        return torch.zeros(0, 5)
    return torch.cat(rois, dim=0)
