"""CAT-Seg's inference views as pure functions: sliding windows plus a global view, or one view.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024.
Details from the authors' code (KU-CVLAB/CAT-Seg ``cat_seg/cat_seg_model.py``):

* ``inference_sliding_window`` (their evaluation, ``eval.sh`` sets ``TEST.SLIDING_WINDOW True``):
  the image (already resized to a short side of 640) is resized to 640x640, cut into 384x384
  windows with stride ``int(384 * (1 - 0.333)) = 256`` (2x2 windows), plus one global view of the
  whole image resized to 384x384; each view's logits are upsampled to 384 (bilinear), passed
  through a sigmoid, the windows averaged where they overlap (``nn.Fold`` sums divided by the
  counts), the global view resized to 640x640, and the two averaged; the 640x640 map is finally
  resized to the original image size;
* the whole-image path (``forward`` in eval mode): the normalised image is zero-padded at the
  bottom and right to a multiple of 32 (detectron2's ``ImageList``), the model sees it resized to
  its CLIP resolution, the sigmoid of its logits is cropped to the unpadded image size *in the
  logits' own pixels* and resized to the original size (``sem_seg_postprocess``). For a 640-side
  image the crop keeps all of the 96x96 map, so the padded strip is stretched into the image;
  this is the authors' behaviour, reproduced.

The window grid is mmseg's (``dense_clip.seg.inference.window_grid``), which equals the authors'
unfold grid whenever the windows tile the resized image (640 = 256 + 384) and otherwise shifts the
last window back to the border instead of dropping the remainder.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from dense_clip.seg.inference import window_grid

__all__ = ['slide_probabilities', 'whole_probabilities']

Scorer = Callable[[Tensor], Tensor]


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def slide_probabilities(image: Tensor, score: Scorer, slide_size: tuple[int, int],
                        crop: tuple[int, int], stride: tuple[int, int], global_view: bool = True,
                        views_per_batch: int = 5, class_chunk: int = 64) -> Tensor:
    """Per-class probabilities of one image from windows and a global view.

    Args:
        image: (1, 3, H, W) normalised image.
        score: maps (N, 3, h, w) views to (N, K, h', w') logits (any h', w').
        slide_size: (H', W') the image is resized to before cutting windows (640, 640).
        crop: window size (384, 384); also the size of the global view.
        stride: window step (256, 256).
        global_view: average the windows with a view of the whole image (the authors' do).
        views_per_batch: views scored in one call.
        class_chunk: classes upsampled at a time (bounds memory for large vocabularies).

    Returns:
        (K, H', W') float32 probabilities on the resized frame.
    """
    if image.shape[0] != 1:
        raise ValueError(f'one image at a time, got a batch of {image.shape[0]}')
    resized = _resize(image, slide_size)
    boxes = window_grid(*slide_size, crop, stride)
    views = [resized[..., y1:y2, x1:x2] for y1, y2, x1, x2 in boxes]
    if global_view:
        views.append(_resize(image, crop))
    logits = torch.cat([score(torch.cat(views[i:i + views_per_batch]))
                        for i in range(0, len(views), views_per_batch)]).float()
    num_classes = logits.shape[1]
    out = logits.new_zeros((num_classes, *slide_size))
    count = logits.new_zeros((1, *slide_size))
    for y1, y2, x1, x2 in boxes:
        count[:, y1:y2, x1:x2] += 1
    window = (boxes[0][1] - boxes[0][0], boxes[0][3] - boxes[0][2])  # crop, or the image if smaller
    for start in range(0, num_classes, class_chunk):
        chunk = slice(start, start + class_chunk)
        probs = _resize(logits[:len(boxes), chunk], window).sigmoid()  # (windows, k, window)
        windows = out[chunk]
        for (y1, y2, x1, x2), view in zip(boxes, probs):
            windows[:, y1:y2, x1:x2] += view
        windows /= count
        if global_view:
            whole = _resize(logits[len(boxes):, chunk], crop).sigmoid()
            windows += _resize(whole, slide_size)[0]
            windows /= 2
    return out


def whole_probabilities(image: Tensor, score: Scorer, size_divisor: int = 32) -> Tensor:
    """Per-class probabilities of one image from a single view, as the authors' whole path.

    Args:
        image: (1, 3, H, W) normalised image.
        score: maps (1, 3, H', W') to (1, K, h, w) logits.
        size_divisor: zero-pad the bottom and right to a multiple of this (1: no padding).

    Returns:
        (K, min(H, h), min(W, w)) float32 probabilities: the sigmoid of the logits cropped to
        the unpadded image size in the logits' pixels (resize them to the image afterwards).
    """
    height, width = image.shape[-2:]
    pad_h, pad_w = (-height) % size_divisor, (-width) % size_divisor
    if pad_h or pad_w:
        image = F.pad(image, (0, pad_w, 0, pad_h))
    probs = score(image).float().sigmoid()[0]
    return probs[:, :height, :width]
