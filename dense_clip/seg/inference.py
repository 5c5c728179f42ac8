"""Pure functions behind open-vocabulary segmentation inference.

They follow the protocol shared by the training-free CLIP segmentation papers (see
``configs/_base_/protocols.md``): mmseg's sliding-window grid, per-window scores upsampled to
the window and averaged, probabilities over all class names, the max over each class's synonyms,
then optional area and probability thresholds that hand pixels to class 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dense_clip.models.text import reduce_synonyms

__all__ = [
    'finalise_prediction',
    'pad_to_multiple',
    'slide_logits',
    'window_grid',
]


def window_grid(height: int, width: int, crop: tuple[int, int],
                stride: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Window boxes ``(y1, y2, x1, x2)`` of mmseg's slide inference.

    Windows step by ``stride``; the last one in each direction is shifted back so it ends at the
    border. An image smaller than the crop gets one window of the image's own size.
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop, stride
    h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
    boxes = []
    for i in range(h_grids):
        for j in range(w_grids):
            y2, x2 = min(i * h_stride + h_crop, height), min(j * w_stride + w_crop, width)
            boxes.append((max(y2 - h_crop, 0), y2, max(x2 - w_crop, 0), x2))
    return boxes


def pad_to_multiple(images: torch.Tensor,
                    multiple: int | tuple[int, int]) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Zero-pads ``(B, C, H, W)`` to multiples of ``multiple`` (h, w), split evenly per side.

    This is ClearCLIP's handling of sizes that are not a multiple of the patch size.

    Returns:
        The padded images and the padding ``(left, right, top, bottom)``.
    """
    mult_h, mult_w = (multiple, multiple) if isinstance(multiple, int) else multiple
    height, width = images.shape[-2:]
    pad_h, pad_w = (-height) % mult_h, (-width) % mult_w
    padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
    if any(padding):
        images = F.pad(images, padding)
    return images, padding


def slide_logits(
    images: torch.Tensor,
    window_scores: Callable[[torch.Tensor], torch.Tensor],
    num_outputs: int,
    crop: tuple[int, int],
    stride: tuple[int, int],
    windows_per_batch: int = 1,
) -> torch.Tensor:
    """Averages per-window logits over mmseg's sliding-window grid.

    Args:
        images: ``(1, 3, H, W)`` normalised image.
        window_scores: maps ``(N, 3, h, w)`` windows (all the same size) to ``(N, S, h, w)``
            logits at window resolution.
        num_outputs: S, the number of output channels.
        crop: window ``(h, w)``.
        stride: step ``(h, w)``.
        windows_per_batch: how many windows go through ``window_scores`` at once.

    Returns:
        ``(1, S, H, W)`` logits, each pixel the mean over the windows that cover it.
    """
    if images.shape[0] != 1:
        raise ValueError(f'slide inference takes one image at a time, got {images.shape[0]}')
    height, width = images.shape[-2:]
    boxes = window_grid(height, width, crop, stride)
    total = images.new_zeros((1, num_outputs, height, width), dtype=torch.float32)
    count = images.new_zeros((1, 1, height, width), dtype=torch.float32)
    for start in range(0, len(boxes), max(windows_per_batch, 1)):
        chunk = boxes[start:start + max(windows_per_batch, 1)]
        windows = torch.cat([images[..., y1:y2, x1:x2] for y1, y2, x1, x2 in chunk])
        logits = window_scores(windows).float()
        for (y1, y2, x1, x2), logit in zip(chunk, logits):
            total[0, :, y1:y2, x1:x2] += logit
            count[0, :, y1:y2, x1:x2] += 1
    return total / count


def finalise_prediction(
    name_probs: torch.Tensor,
    class_index: torch.Tensor,
    num_classes: int,
    area_thresh: float | None = None,
    prob_thresh: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turns per-name probabilities into class probabilities and a label map.

    Args:
        name_probs: ``(S, H, W)`` probabilities over the S class names (synonyms).
        class_index: ``(S,)`` long, the class of each name.
        num_classes: C.
        area_thresh: if set, a non-background class whose argmax area is at most this fraction
            of all non-background argmax pixels has its probabilities zeroed.
        prob_thresh: pixels whose top class probability is below this become class 0.

    Returns:
        ``(C, H, W)`` probabilities (max over each class's names) and ``(1, H, W)`` long labels.
    """
    if class_index.numel() != name_probs.shape[0] or int(class_index.max()) >= num_classes:
        raise ValueError(f'{name_probs.shape[0]} name channels do not match a class index of '
                         f'{class_index.numel()} names over {num_classes} classes')
    probs = reduce_synonyms(name_probs[None], class_index)[0].clone()
    if area_thresh is not None:
        labels = probs.argmax(dim=0)
        areas = torch.stack([(labels == c).sum() for c in range(1, num_classes)]).float()
        keep = (areas > area_thresh * areas.sum()).float()
        probs[1:] = probs[1:] * keep[:, None, None]
    labels = probs.argmax(dim=0, keepdim=True)
    labels[probs.max(dim=0, keepdim=True).values < prob_thresh] = 0
    return probs, labels
