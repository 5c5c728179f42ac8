"""Pieces every dense_clip detector shares: CLIP's pixel statistics, settings merging, boxes of a
data sample."""

from __future__ import annotations

import logging

import torch
from mmengine.logging import print_log
from torch import Tensor

from dense_clip.models.clip.constants import CLIP_MEAN, CLIP_STD
from dense_clip.models.region import clip_boxes

__all__ = ['CLIP_MEAN', 'CLIP_STD', 'clip_data_preprocessor', 'proposals_of',
           'set_unregistered']

# CLIP's pixel statistics in 0-255 space (OpenAI's preprocessing), RGB order.


def clip_data_preprocessor(pad_size_divisor: int = 32) -> dict:
    """mmdet's ``DetDataPreprocessor`` with CLIP's normalisation (images load as BGR)."""
    return dict(type='DetDataPreprocessor', mean=CLIP_MEAN, std=CLIP_STD, bgr_to_rgb=True,
                pad_size_divisor=pad_size_divisor)


def set_unregistered(module: torch.nn.Module, name: str, value: torch.nn.Module) -> None:
    """Stores a sub-module without registering it (its weights are registered elsewhere).

    The dense encoder wraps ``clip_model.visual``; registering both would write every CLIP
    image weight twice into checkpoints.
    """
    module.__dict__[name] = value


def _tensor(boxes) -> Tensor:
    return boxes.tensor if hasattr(boxes, 'tensor') else torch.as_tensor(boxes)


def proposals_of(sample, source: str, index: int) -> tuple[Tensor, Tensor]:
    """The boxes to classify for one data sample, in network-input pixels.

    Args:
        sample: a ``DetDataSample``.
        source: ``'gt'`` (its ground-truth boxes, already resized by the pipeline) or
            ``'file'`` (``sample.proposals`` from a proposal file, in original pixels: scaled by
            the sample's ``scale_factor``, clipped to ``img_shape``; boxes left without area are
            dropped with a warning, as detectron2 and mmdet do for proposals).
        index: the sample's position in the batch (for messages).

    Returns:
        (boxes (N, 4) float32, proposal scores (N,) float32; ones for ground truth).
    """
    meta = sample.metainfo
    if source == 'gt':
        if 'gt_instances' not in sample:
            raise ValueError(f"image {index} ({meta.get('img_path')}) has no ground-truth boxes: "
                             "proposals='gt' needs LoadAnnotations in the test pipeline")
        boxes = _tensor(sample.gt_instances.bboxes).float()
        return boxes, boxes.new_ones(boxes.shape[0])
    if 'proposals' not in sample:
        raise ValueError(f"image {index} ({meta.get('img_path')}) has no proposals: "
                         "proposals='file' needs the dataset's proposal_file and LoadProposals")
    boxes = _tensor(sample.proposals.bboxes).float()
    scores = sample.proposals.get('scores', None)
    scores = boxes.new_ones(boxes.shape[0]) if scores is None else torch.as_tensor(scores).float()
    scale = meta.get('scale_factor', (1.0, 1.0))
    boxes = boxes * boxes.new_tensor([scale[0], scale[1], scale[0], scale[1]])
    boxes, keep = clip_boxes(boxes, meta['img_shape'][:2])
    if not bool(keep.all()):
        print_log(f"{meta.get('img_path')}: dropped {int((~keep).sum())} proposals without "
                  'area inside the image', logger='current', level=logging.WARNING)
    return boxes[keep], scores[keep]
