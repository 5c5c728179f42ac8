"""CAT-Seg's training loss: per-class binary cross-entropy on upsampled logits.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024.
As the authors' ``CATSeg.forward`` in training (KU-CVLAB/CAT-Seg ``cat_seg/cat_seg_model.py``): the
logits are upsampled (bilinear) to the label size, every pixel gets a one-hot target over the K
classes, ignored pixels get an all-zero target (they count as negatives for every class, they are
not left out), and the loss is the mean of ``binary_cross_entropy_with_logits`` over all
B x H x W x K entries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['catseg_bce_loss']


def catseg_bce_loss(logits: Tensor, labels: Tensor, ignore_index: int = 255) -> Tensor:
    """Mean per-class BCE, ignored pixels as all-zero targets.

    Args:
        logits: (B, K, h, w) float logits (any size; upsampled to the labels).
        labels: (B, H, W) int64 class indices in [0, K) or ``ignore_index``.
        ignore_index: label of unlabelled pixels.

    Returns:
        Scalar loss.

    Raises:
        ValueError: a label outside [0, K) that is not ``ignore_index`` (names it and K).
    """
    num_classes = logits.shape[1]
    valid = labels != ignore_index
    bad = labels[valid & ((labels < 0) | (labels >= num_classes))]
    if bad.numel():
        raise ValueError(f'label {int(bad[0])} is outside the {num_classes} training classes '
                         f'(ignore_index {ignore_index}); check the training vocabulary')
    logits = F.interpolate(logits, size=labels.shape[-2:], mode='bilinear', align_corners=False)
    targets = torch.zeros_like(logits)
    index = torch.where(valid, labels, 0).unsqueeze(1)
    targets.scatter_(1, index, valid.unsqueeze(1).to(targets.dtype))
    return F.binary_cross_entropy_with_logits(logits, targets)
