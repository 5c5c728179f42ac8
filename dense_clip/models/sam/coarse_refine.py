"""Refining a coarse semantic map with SAM, prompted by the map's own regions (Trident).

Shi, Dong, Xu, "Harnessing Vision Foundation Models for High-Performance, Training-Free Open
Vocabulary Segmentation", ICCV 2025, Sec. 3.3; the order of operations and every constant follow
the authors' public code (YuHengsss/Trident ``seg_utils/utils.py`` ``sam_refinement``,
``split_connected_regions``, ``map_refinement_coarse``, ``map_failed_regions``):

1. The labels and probabilities are halved (nearest / bilinear). With ``coarse_thresh`` > 0,
   pixels whose top probability is below it join no class.
2. Each class whose top probability reaches ``coarse_thresh`` is split into 8-connected regions
   of at least ``minimal_area`` pixels (at the halved size). Each region gives one prompt: its
   box (inclusive pixel corners), the point of its highest probability, and, shared by the
   class, the class's probability map resized into SAM's low-resolution mask frame, kept above
   ``coarse_thresh`` and scaled by ``mask_coef``.
3. SAM answers one mask per prompt; masks whose predicted IoU is at most ``iou_thresh`` are
   dropped (their regions are "failed").
4. Each class's score becomes, inside the union of its kept masks, the highest
   sigmoid(SAM logit) x class probability over its masks, and 0 elsewhere; labels are the
   arg-max, except where every class scores 0 (the coarse label stays). Where a failed region
   lies, a class's coarse probability replaces its score when higher.

The returned scores are these refined scores (the authors' ``seg_logits``), not probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['ClassRegions', 'class_regions', 'refine_with_sam_prompts']


@dataclass
class ClassRegions:
    """The prompt regions of one class, at the halved size.

    Attributes:
        masks: (R, h, w) uint8 region masks, in label order.
        boxes: (R, 4) float (x1, y1, x2, y2), inclusive corners (torchvision's convention).
        points: (R, 2) long (x, y) of each region's highest probability.
    """

    masks: Tensor
    boxes: Tensor
    points: Tensor

    def __len__(self) -> int:
        return self.masks.shape[0]


def class_regions(labels: Tensor, probs: Tensor, coarse_thresh: float,
                  minimal_area: int) -> dict[int, ClassRegions]:
    """Splits each class of a label map into 8-connected regions (step 2 of the module).

    Args:
        labels: (h, w) long labels; pixels no class holds may carry any value >= C.
        probs: (C, h, w) class probabilities.
        coarse_thresh: classes whose top probability is below it get no regions.
        minimal_area: regions with fewer pixels are dropped.

    Returns:
        Class index -> its regions (classes without any are absent).
    """
    from scipy.ndimage import label as connected
    from torchvision.ops import masks_to_boxes

    structure = np.ones((3, 3), dtype=bool)  # 8-connectivity
    labels_np = labels.cpu().numpy()
    out = {}
    for c in range(probs.shape[0]):
        class_prob = probs[c]
        if class_prob.max() < coarse_thresh:
            continue
        components, count = connected(labels_np == c, structure=structure)
        masks, points = [], []
        for index in range(1, count + 1):
            region = components == index
            if region.sum() < minimal_area:
                continue
            region_t = torch.from_numpy(region)
            position = int(torch.argmax(class_prob * region_t.to(class_prob)))
            points.append(torch.tensor([position % class_prob.shape[1],
                                        position // class_prob.shape[1]]))
            masks.append(region.astype(np.uint8))
        if masks:
            stacked = torch.from_numpy(np.stack(masks))
            out[c] = ClassRegions(stacked, masks_to_boxes(stacked), torch.stack(points))
    return out


def _mask_prompt(class_prob: Tensor, image_size: tuple[int, int], side: int,
                 coarse_thresh: float, mask_coef: float) -> Tensor:
    """A class's probabilities in SAM's (1, side, side) low-resolution mask frame (resized as
    the image, longest side ``side``, padded at the right and bottom)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    height, width = ResizeLongestSide.get_preprocess_shape(*image_size, side)
    frame = F.interpolate(class_prob[None, None], [height, width], mode='bilinear',
                          align_corners=False)[0]
    frame = F.pad(frame, (0, side - width, 0, side - height), mode='constant', value=0)
    return torch.where(frame > coarse_thresh, mask_coef * frame,
                       torch.zeros((), dtype=frame.dtype)).float()


@torch.no_grad()
def refine_with_sam_prompts(predictor, labels: Tensor, probs: Tensor, coarse_thresh: float = 0.2,
                            minimal_area: int = 225, mask_coef: float = 0.005,
                            iou_thresh: float = 0.8, down_ratio: int = 2
                            ) -> tuple[Tensor, Tensor]:
    """Trident's SAM refinement of a coarse map (see the module docstring).

    Args:
        predictor: a segment_anything ``SamPredictor`` whose image is set (the image at the
            labels' size, sides rounded up to multiples of the CLIP patch, as the authors do).
        labels: (1, H, W) long coarse labels.
        probs: (C, H, W) class probabilities.
        coarse_thresh, minimal_area, mask_coef, iou_thresh: the authors' ``coarse_thresh``,
            ``minimal_area``, ``sam_mask_coff`` and ``sam_iou_thresh``.
        down_ratio: the regions are found on the map shrunk by this factor (authors: 2).

    Returns:
        (labels (1, H, W) long, scores (C, H, W)); the inputs when no SAM mask is kept.
    """
    num_classes = probs.shape[0]
    height, width = labels.shape[-2:]
    small = (height // down_ratio, width // down_ratio)
    if down_ratio != 1:
        labels_small = F.interpolate(labels[None].half(), list(small),
                                     mode='nearest')[0].long()
        probs_small = F.interpolate(probs[None], list(small), mode='bilinear',
                                    align_corners=False)[0]
    else:
        labels_small, probs_small = labels.clone(), probs
    if coarse_thresh > 0:
        labels_small[probs_small.max(0, keepdim=True)[0] < coarse_thresh] = num_classes
    regions = class_regions(labels_small[0], probs_small, coarse_thresh, minimal_area)
    model = predictor.model
    side = int(model.prompt_encoder.mask_input_size[0])
    predictor.features = predictor.features.float()
    kept: dict[int, tuple[Tensor, Tensor]] = {}  # class -> (masks, logits) of kept prompts
    failed = []
    for c in range(num_classes):
        if c not in regions:
            continue
        found = regions[c]
        mask_input = _mask_prompt(probs_small[c], (height, width), side, coarse_thresh,
                                  mask_coef).to(predictor.device)
        boxes = predictor.transform.apply_boxes_torch(found.boxes.float().to(predictor.device),
                                                      list(small)).float()
        points = predictor.transform.apply_coords_torch(
            found.points.float().to(predictor.device), list(small))[:, None]
        masks, ious, logits = predictor.predict_torch(
            point_coords=points, point_labels=torch.ones(len(found), 1, device=predictor.device),
            boxes=boxes, mask_input=mask_input, multimask_output=False)
        valid = (ious > iou_thresh).squeeze(-1)
        if int(valid.sum()) != len(found):
            failed.append(found.masks[~valid.cpu()])
        if int(valid.sum()) == 0:
            continue
        kept[c] = (masks[valid], logits[valid])
    if not kept:
        return labels, probs
    low_res = torch.cat([logits for _, logits in kept.values()])
    full = model.postprocess_masks(low_res, predictor.input_size, predictor.original_size)
    if tuple(full.shape[-2:]) != (height, width):
        full = F.interpolate(full, (height, width), mode='bilinear', align_corners=False)
        masks_full = full > model.mask_threshold
    else:
        masks_full = torch.cat([masks for masks, _ in kept.values()])
    sigmoid = full.sigmoid()
    scores = torch.zeros(num_classes, height, width, device=full.device)
    start = 0
    for c, (masks, _) in kept.items():
        count = masks.shape[0]
        union = masks_full[start:start + count, 0].sum(dim=0).bool()
        best = (sigmoid[start:start + count, 0] * probs[c]).max(dim=0).values
        scores[c] = best * union
        start += count
    refined = scores.argmax(0, keepdim=True)
    refined = torch.where(scores.sum(dim=0, keepdim=True) == 0, labels, refined)
    if failed:
        regions_full = torch.cat(failed).to(full.device)
        if down_ratio != 1:
            regions_full = F.interpolate(regions_full[None].float(), (height, width),
                                         mode='nearest')[0].long()
        area = regions_full.sum(dim=0, keepdim=True) != 0
        coarse = area * probs
        scores = torch.where(coarse > scores, coarse, scores)
        refined = torch.where(coarse.max(dim=0, keepdim=True)[0] >
                              scores.max(dim=0, keepdim=True)[0], labels, refined)
    return refined, scores
