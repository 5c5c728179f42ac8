"""Masks from box and point prompts through segment_anything's ``SamPredictor``, wrapped.

Kirillov et al., "Segment Anything", ICCV 2023 (``segment_anything/predictor.py``): the image is
encoded once (``set_image``), then any number of prompts are decoded in one batch
(``predict_torch``; prompts mapped to SAM's 1024-px frame with its ``ResizeLongestSide``). With
``multimask=True`` SAM returns three masks per prompt and the one with the highest predicted IoU
is kept, as the authors' notebooks suggest for single-point prompts.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dense_clip.models.masks.proposals import MaskGenerator, MaskProposals, masks_to_boxes
from dense_clip.registry import MASK_GENERATORS

from .sam_model import SAMModel, to_rgb_uint8

__all__ = ['SAMPromptedMasks']


@MASK_GENERATORS.register_module()
class SAMPromptedMasks(MaskGenerator):
    """One SAM mask per prompt (box, points, or both).

    Args:
        sam: :class:`SAMModel` arguments or a built one.
        multimask: ask SAM for three masks per prompt and keep the best predicted IoU.
    """

    def __init__(self, sam: dict | SAMModel | None = None, multimask: bool = False) -> None:
        super().__init__()
        self.sam = sam if isinstance(sam, SAMModel) else SAMModel(**(sam or {}))
        self.multimask = bool(multimask)

    def init_weights(self) -> None:
        self.sam.init_weights()

    @torch.no_grad()
    def forward(self, image: np.ndarray | Tensor, boxes: Tensor | None = None,
                points: Tensor | None = None, point_labels: Tensor | None = None,
                mask_inputs: Tensor | None = None) -> MaskProposals:
        """Masks of one image for K prompts.

        Args:
            image: (H, W, 3) uint8 RGB, 0-255.
            boxes: (K, 4) (x1, y1, x2, y2) boxes in image pixels, or None.
            points: (K, P, 2) (x, y) points in image pixels, or None.
            point_labels: (K, P) 1 foreground / 0 background; default all foreground.
            mask_inputs: (K, 1, 256, 256) low-resolution mask logits in SAM's padded frame (as
                SAM returns them), or None.

        Returns:
            :class:`MaskProposals` with K masks at (H, W), in prompt order; scores are SAM's
            predicted IoU. No prompt: no mask.

        Raises:
            ValueError: prompts of mismatched counts or shapes.
        """
        from segment_anything import SamPredictor

        rgb = to_rgb_uint8(image)
        height, width = rgb.shape[:2]
        count = _prompt_count(boxes, points, point_labels)
        if count == 0:
            return MaskProposals.empty(height, width)
        predictor = SamPredictor(self.sam.ready())
        predictor.set_image(rgb)
        device = predictor.device
        coords = labels = box_in = None
        if points is not None:
            coords = predictor.transform.apply_coords_torch(points.float().to(device),
                                                            (height, width))
            labels = (torch.ones(points.shape[:2]) if point_labels is None
                      else point_labels).float().to(device)
        if boxes is not None:
            box_in = predictor.transform.apply_boxes_torch(boxes.float().to(device),
                                                           (height, width))
        masks, ious, _ = predictor.predict_torch(
            coords, labels, boxes=box_in,
            mask_input=None if mask_inputs is None else mask_inputs.float().to(device),
            multimask_output=self.multimask)
        best = ious.argmax(dim=1)  # (K,)
        rows = torch.arange(count, device=masks.device)
        masks, ious = masks[rows, best].cpu(), ious[rows, best].float().cpu()
        return MaskProposals(masks.bool(), ious.clamp(0, 1), masks_to_boxes(masks.bool()))

    def extra_repr(self) -> str:
        return f'multimask={self.multimask}'


def _prompt_count(boxes: Tensor | None, points: Tensor | None,
                  point_labels: Tensor | None) -> int:
    counts = set()
    if boxes is not None:
        if boxes.ndim != 2 or boxes.shape[-1] != 4:
            raise ValueError(f'boxes must be (K, 4), got {tuple(boxes.shape)}')
        counts.add(boxes.shape[0])
    if points is not None:
        if points.ndim != 3 or points.shape[-1] != 2:
            raise ValueError(f'points must be (K, P, 2), got {tuple(points.shape)}')
        counts.add(points.shape[0])
        if point_labels is not None and tuple(point_labels.shape) != tuple(points.shape[:2]):
            raise ValueError(f'point_labels must be {tuple(points.shape[:2])}, got '
                             f'{tuple(point_labels.shape)}')
    if len(counts) > 1:
        raise ValueError(f'{boxes.shape[0]} boxes but {points.shape[0]} point sets: give one '
                         'of each per prompt')
    return counts.pop() if counts else 0
