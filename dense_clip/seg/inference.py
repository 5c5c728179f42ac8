"""Pure functions behind open-vocabulary segmentation inference.

They follow the protocol shared by the training-free CLIP segmentation papers (see
``configs/_base_/protocols.md``): mmseg's sliding-window grid, per-window scores upsampled to
the window and averaged, probabilities over all class names, the max over each class's synonyms,
then optional area and probability thresholds that hand pixels to class 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from dense_clip.models.text import reduce_synonyms

__all__ = [
    'check_whole_image_tokens',
    'choose_probs_mode',
    'finalise_prediction',
    'pad_to_multiple',
    'pad_windows',
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


def pad_windows(windows: torch.Tensor, mode: str, patch: tuple[int, int],
                pad_value: torch.Tensor | float = 0.0) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pads ``(N, 3, h, w)`` windows for a patch size, as ``test_cfg.patch_remainder`` says.

    Args:
        windows: Normalised windows.
        mode: 'drop' (no padding), 'pad' (:func:`pad_to_multiple`, ClearCLIP) or
            'pad_stretch' (CLIP-DINOiser: ``pad_value`` pixels at the right and bottom).
        patch: (ph, pw).
        pad_value: A black pixel after normalisation, (1, 3, 1, 1) or a number.

    Returns:
        The windows and the padding ``(left, right, top, bottom)``.
    """
    if mode == 'pad':
        return pad_to_multiple(windows, patch)
    if mode == 'pad_stretch':
        (ph, pw), (h, w) = patch, windows.shape[-2:]
        padding = (0, (-w) % pw, 0, (-h) % ph)
        if any(padding):
            padded = windows.new_empty(*windows.shape[:2], h + padding[3], w + padding[1])
            padded[:] = torch.as_tensor(pad_value, dtype=windows.dtype, device=windows.device)
            padded[..., :h, :w] = windows
            windows = padded
        return windows, padding
    return windows, (0, 0, 0, 0)


def check_whole_image_tokens(height: int, width: int, patch: tuple[int, int], remainder: str,
                             max_tokens: int, heads: int | None = None) -> int:
    """Refuses a whole-image pass whose patch grid exceeds ``max_tokens``, before encoding.

    Args:
        height, width: The image's size in pixels.
        patch: (ph, pw) pixels per token (32 for CLIP ResNets).
        remainder: ``test_cfg.patch_remainder`` ('drop' rounds the grid down, else up).
        max_tokens: The limit (``test_cfg.max_tokens``).
        heads: Attention heads (ViT), to say how much memory one attention map would take.

    Returns:
        The number of tokens (grid cells).

    Raises:
        ValueError: Over the limit; the message gives the size, the grid, the limit and the fixes.
    """
    (ph, pw) = patch
    if remainder == 'drop':
        grid = (height // ph, width // pw)
    else:
        grid = (-(-height // ph), -(-width // pw))
    tokens = grid[0] * grid[1]
    if tokens <= max_tokens:
        return tokens
    need = ''
    if heads is not None:
        need = (f'; one attention map over them is {heads} heads x {tokens:,}^2 floats = '
                f'{heads * tokens ** 2 * 4 / 2 ** 30:,.1f} GiB')
    raise ValueError(
        f'whole-image inference of a {width}x{height} image makes a {grid[0]}x{grid[1]} patch '
        f'grid ({tokens:,} tokens, patch {ph}), over the limit test_cfg.max_tokens='
        f'{max_tokens:,}{need}. Resize the image first (a Resize step in the test pipeline; '
        "tools/demo.py resizes photos itself), use test_cfg.mode='slide', or raise "
        'test_cfg.max_tokens')


def choose_probs_mode(mode: str, num_names: int, pixels: int, max_mb: float, size: str) -> str:
    """Resolves ``test_cfg.probs`` for one image: 'full' or 'top'.

    Args:
        mode: 'full', 'top' or 'auto'.
        num_names: S, class names scored.
        pixels: Pixels of the largest per-name map (network input or original size).
        max_mb: ``test_cfg.max_probs_mb``: the largest (S, H, W) float32 map 'full' may hold.
        size: The image's size for messages, e.g. '4000x3000'.

    Raises:
        ValueError: 'full' over the limit (the message gives the fixes).
    """
    if mode == 'top':
        return 'top'
    need_mb = num_names * pixels * 4 / 2 ** 20
    if need_mb <= max_mb:
        return 'full'
    if mode == 'auto':
        print_log(f'{size} image, {num_names} class names: the scores of every class would '
                  f'take {need_mb:,.1f} MB per map (> test_cfg.max_probs_mb={max_mb:g}), so '
                  "seg_logits keeps each pixel's top-class probability only (probs='top')",
                  logger='current', level=logging.INFO)
        return 'top'
    raise ValueError(
        f'a {size} image with {num_names} class names needs {need_mb:,.1f} MB per '
        f'full-resolution score map, over test_cfg.max_probs_mb={max_mb:g}. Set '
        "test_cfg.probs='top' (or 'auto') to keep only each pixel's top-class probability, "
        'computed in bounded memory, or resize the image')


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
        ``(C, H, W)`` probabilities (max over each class's names; ``name_probs`` itself when
        every class has one name and no area threshold is set) and ``(1, H, W)`` long labels.
    """
    if class_index.numel() != name_probs.shape[0] or int(class_index.max()) >= num_classes:
        raise ValueError(f'{name_probs.shape[0]} name channels do not match a class index of '
                         f'{class_index.numel()} names over {num_classes} classes')
    probs = reduce_synonyms(name_probs[None], class_index)[0]  # name_probs itself if no synonyms
    if area_thresh is not None:
        labels = probs.max(dim=0).indices  # the first maximum, as argmax (one pass for both)
        areas = torch.stack([(labels == c).sum() for c in range(1, num_classes)]).float()
        keep = (areas > area_thresh * areas.sum()).float()
        probs = torch.cat([probs[:1], probs[1:] * keep[:, None, None]])  # name_probs unchanged
    top, labels = probs.max(dim=0, keepdim=True)
    labels[top < prob_thresh] = 0
    return probs, labels
