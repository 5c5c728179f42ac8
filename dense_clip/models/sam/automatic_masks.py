"""Class-agnostic masks from segment_anything's ``SamAutomaticMaskGenerator``, wrapped.

Kirillov et al., "Segment Anything", ICCV 2023; the generator and its defaults are the authors'
(``segment_anything/automatic_mask_generator.py``: a grid of 32 x 32 point prompts, masks kept
when SAM's predicted IoU is at least 0.88 and the stability score at least 0.95, box NMS at
0.7, optional crop layers). The wrapper only builds it from config settings, feeds it the image
and turns its list of records into :class:`MaskProposals`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from dense_clip.models.masks.proposals import MaskGenerator, MaskProposals
from dense_clip.registry import MASK_GENERATORS

from .sam_model import SAMModel, to_rgb_uint8

__all__ = ['SAMAutomaticMasks']

# SamAutomaticMaskGenerator's own defaults (the settings a config may change).
GENERATOR_DEFAULTS: dict[str, Any] = dict(
    points_per_side=32, points_per_batch=64, pred_iou_thresh=0.88, stability_score_thresh=0.95,
    stability_score_offset=1.0, box_nms_thresh=0.7, crop_n_layers=0, crop_nms_thresh=0.7,
    crop_overlap_ratio=512 / 1500, crop_n_points_downscale_factor=1, min_mask_region_area=0)


@MASK_GENERATORS.register_module()
class SAMAutomaticMasks(MaskGenerator):
    """Every mask SAM finds in an image, from a grid of point prompts.

    Args:
        sam: :class:`SAMModel` arguments (``model_type``, ``checkpoint``, ``tiny``, ``arch``) or
            a built one.
        max_masks: keep at most this many masks, best predicted IoU first (None: all).
        **settings: ``SamAutomaticMaskGenerator`` settings: ``points_per_side`` (32),
            ``points_per_batch`` (64), ``pred_iou_thresh`` (0.88), ``stability_score_thresh``
            (0.95), ``stability_score_offset`` (1.0), ``box_nms_thresh`` (0.7),
            ``crop_n_layers`` (0), ``crop_nms_thresh`` (0.7), ``crop_overlap_ratio``
            (512 / 1500), ``crop_n_points_downscale_factor`` (1), ``min_mask_region_area`` (0;
            above 0 removes small islands and holes with OpenCV).

    Raises:
        ValueError: an unknown setting (the valid ones are listed).
    """

    def __init__(self, sam: dict | SAMModel | None = None, max_masks: int | None = None,
                 **settings: Any) -> None:
        super().__init__()
        unknown = sorted(set(settings) - set(GENERATOR_DEFAULTS))
        if unknown:
            raise ValueError(f'unknown SamAutomaticMaskGenerator setting(s) {unknown}; valid: '
                             f'{sorted(GENERATOR_DEFAULTS)}')
        self.sam = sam if isinstance(sam, SAMModel) else SAMModel(**(sam or {}))
        self.settings = {**GENERATOR_DEFAULTS, **settings}
        self.max_masks = max_masks

    def init_weights(self) -> None:
        self.sam.init_weights()

    @torch.no_grad()
    def forward(self, image: np.ndarray | Tensor) -> MaskProposals:
        """Masks of one image.

        Args:
            image: (H, W, 3) uint8 RGB, 0-255 (numpy or tensor; (3, H, W) tensors too).

        Returns:
            :class:`MaskProposals` at (H, W), best predicted IoU first; possibly empty.
        """
        from segment_anything import SamAutomaticMaskGenerator

        rgb = to_rgb_uint8(image)
        generator = SamAutomaticMaskGenerator(self.sam.ready(), output_mode='binary_mask',
                                              **self.settings)
        records = generator.generate(rgb)
        height, width = rgb.shape[:2]
        if not records:
            return MaskProposals.empty(height, width)
        records.sort(key=lambda r: -float(r['predicted_iou']))
        if self.max_masks is not None:
            records = records[:self.max_masks]
        masks = torch.from_numpy(np.stack([r['segmentation'] for r in records])).bool()
        scores = torch.tensor([float(r['predicted_iou']) for r in records], dtype=torch.float32)
        x, y, w, h = torch.tensor([r['bbox'] for r in records], dtype=torch.float32).unbind(1)
        boxes = torch.stack([x, y, x + w, y + h], dim=1)
        return MaskProposals(masks, scores.clamp(0, 1), boxes)

    def extra_repr(self) -> str:
        changed = {k: v for k, v in self.settings.items() if GENERATOR_DEFAULTS[k] != v}
        return f'settings={changed}, max_masks={self.max_masks}'

