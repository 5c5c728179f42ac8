"""Class-agnostic mask proposals: what a mask generator (SAM, ground truth) hands to the
classifier, and the interface of such generators."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ['MaskGenerator', 'MaskProposals', 'masks_to_boxes']


def masks_to_boxes(masks: Tensor) -> Tensor:
    """Tight (x1, y1, x2, y2) boxes of binary masks, pixel-edge convention (x2 = last col + 1).

    Args:
        masks: (N, H, W) bool.

    Returns:
        (N, 4) float32; an empty mask gets (0, 0, 0, 0).
    """
    n = masks.shape[0]
    boxes = torch.zeros(n, 4, dtype=torch.float32, device=masks.device)
    if n == 0:
        return boxes
    rows, cols = masks.any(dim=2), masks.any(dim=1)  # (N, H), (N, W)
    present = rows.any(dim=1)
    h_idx = torch.arange(masks.shape[1], device=masks.device)
    w_idx = torch.arange(masks.shape[2], device=masks.device)
    big = max(masks.shape[1], masks.shape[2]) + 1
    boxes[:, 0] = torch.where(cols, w_idx, big).min(dim=1).values.float()
    boxes[:, 1] = torch.where(rows, h_idx, big).min(dim=1).values.float()
    boxes[:, 2] = torch.where(cols, w_idx, -1).max(dim=1).values.float() + 1
    boxes[:, 3] = torch.where(rows, h_idx, -1).max(dim=1).values.float() + 1
    boxes[~present] = 0
    return boxes


@dataclass
class MaskProposals:
    """Masks of one image, without classes.

    Attributes:
        masks: (N, H, W) bool at the image's resolution.
        scores: (N,) float32 mask quality in [0, 1] (SAM: predicted IoU; ground truth: 1).
        boxes: (N, 4) float32 (x1, y1, x2, y2) pixel boxes.
    """

    masks: Tensor
    scores: Tensor
    boxes: Tensor

    def __post_init__(self) -> None:
        if self.masks.ndim != 3:
            raise ValueError(f'masks must be (N, H, W), got {tuple(self.masks.shape)}')
        n = self.masks.shape[0]
        if self.scores.shape != (n,) or self.boxes.shape != (n, 4):
            raise ValueError(f'{n} masks need (N,) scores and (N, 4) boxes, got '
                             f'{tuple(self.scores.shape)} and {tuple(self.boxes.shape)}')

    @classmethod
    def from_masks(cls, masks: Tensor | np.ndarray, scores: Tensor | None = None) -> MaskProposals:
        """Proposals from binary masks (N, H, W); scores default to 1, boxes are computed."""
        masks = torch.as_tensor(np.asarray(masks) if not isinstance(masks, Tensor) else masks)
        masks = masks.bool()
        if scores is None:
            scores = torch.ones(masks.shape[0], dtype=torch.float32, device=masks.device)
        return cls(masks, scores.float(), masks_to_boxes(masks))

    @classmethod
    def empty(cls, height: int, width: int) -> MaskProposals:
        """No masks, for an image of (height, width)."""
        return cls(torch.zeros(0, height, width, dtype=torch.bool), torch.zeros(0),
                   torch.zeros(0, 4))

    def __len__(self) -> int:
        return int(self.masks.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the masks."""
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    def check_image_size(self, height: int, width: int, source: str = 'mask generator') -> None:
        """Raises ValueError naming both sizes when the masks are not (height, width)."""
        if self.image_size != (height, width):
            raise ValueError(f'{source} gave masks of {self.image_size[0]}x{self.image_size[1]} '
                             f'for an image of {height}x{width}: masks must be at the image '
                             'resolution')

    def select(self, keep: Tensor) -> MaskProposals:
        """A subset, by boolean mask or indices."""
        return MaskProposals(self.masks[keep], self.scores[keep], self.boxes[keep])


class MaskGenerator(nn.Module):
    """Base class of mask generators registered in ``MASK_GENERATORS``.

    ``forward(image) -> MaskProposals`` takes an (H, W, 3) uint8 RGB image (numpy or tensor)
    and returns masks at (H, W). A generator may return no mask; callers handle that.
    """

    def forward(self, image: np.ndarray | Tensor) -> MaskProposals:
        raise NotImplementedError

    def init_weights(self) -> None:
        """Loads the generator's weights, if it has any."""
