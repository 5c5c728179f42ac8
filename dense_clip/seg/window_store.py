"""The patch-grid scores of every window of one image, rendered at image resolution on demand.

Sliding-window inference (mmseg's ``slide_inference``, as SCLIP, ClearCLIP and NACLIP run it)
upsamples each window's scores to the window, sums them into an image-sized canvas and divides
by the number of windows covering each pixel. That canvas holds every class name at every pixel:
(S, H, W) float32. The windows' own scores are small (S x the patch grid), so they are kept and
any range of names is rendered when it is needed, by the same operations in the same order
(bilinear upsampling per window, sums in window order, one division): each rendered range is
bit-identical to the same channels of the whole canvas. A single whole-image pass is stored as
one window covering the image. A head may store less than the scores (the cosine head keeps the
(N, D, h, w) features and scores a range of names when it is rendered, equal to its full scores
to float32 rounding): the store then grows with the feature width, not with the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['ComputedScores', 'WindowStore', 'upsample_window_scores']


def upsample_window_scores(scores: Tensor, size: tuple[int, int], padded_size: tuple[int, int],
                           padding: tuple[int, int, int, int], stretch: bool) -> Tensor:
    """Window scores from the patch grid to the window's pixels (bilinear, align_corners=False).

    Args:
        scores: (N, K, gh, gw) scores on the patch grid of the (padded) windows.
        size: (h, w) of the windows before padding.
        padded_size: (h', w') of the windows the tower saw.
        padding: (left, right, top, bottom) added to the windows.
        stretch: True for 'pad_stretch' (CLIP-DINOiser: the padded grid is resized over the
            unpadded window); False: resize to the padded window and crop the padding off.

    Returns:
        (N, K, h, w) scores.
    """
    height, width = size
    if stretch:
        return F.interpolate(scores, size=(height, width), mode='bilinear', align_corners=False)
    scores = F.interpolate(scores, size=padded_size, mode='bilinear', align_corners=False)
    left, _, top, _ = padding
    return scores[..., top:top + height, left:left + width]


@dataclass
class _Batch:
    boxes: list[tuple[int, int, int, int]]
    scores: Any  # (N, S, gh, gw) Tensor, or lazy scores (see SegHead.lazy_scores)
    padded_size: tuple[int, int]
    padding: tuple[int, int, int, int]

    def channels(self, start: int, end: int) -> Tensor:
        if isinstance(self.scores, Tensor):
            return self.scores[:, start:end]
        return self.scores.channels(start, end)


class WindowStore:
    """Window scores of one image and their layout.

    Args:
        height, width: The image's size.
        stretch: How windows were padded (see :func:`upsample_window_scores`).
    """

    def __init__(self, height: int, width: int, stretch: bool = False) -> None:
        self.height, self.width = int(height), int(width)
        self.stretch = stretch
        self.space: str | None = None
        self._batches: list[_Batch] = []
        self._coverage: Tensor | None = None

    def add(self, boxes: list[tuple[int, int, int, int]], scores: Any, space: str,
            padded_size: tuple[int, int], padding: tuple[int, int, int, int]) -> None:
        """Stores one batch of windows.

        Args:
            boxes: (y1, y2, x1, x2) of each window in the image (all the same size).
            scores: (N, S, gh, gw) their scores on the patch grid, in ``space``, or an object
                that computes them a range of names at a time (``SegHead.lazy_scores``).
            space: The score space (the same for every batch).
            padded_size, padding: As :func:`upsample_window_scores` takes them.
        """
        if self._batches and type(scores) is not type(self._batches[0].scores):
            raise ValueError('window scores and lazy scores cannot be mixed')
        if self.space is not None and space != self.space:
            raise ValueError(f'window scores in {space!r} and {self.space!r} cannot be mixed')
        if len(boxes) != scores.shape[0]:
            raise ValueError(f'{len(boxes)} boxes for {scores.shape[0]} windows')
        self.space = space
        self._coverage = None
        self._batches.append(_Batch(list(boxes), scores, tuple(padded_size), tuple(padding)))

    @property
    def num_outputs(self) -> int:
        """S, the number of score channels."""
        return self._batches[0].scores.shape[1]

    @property
    def whole(self) -> bool:
        """True for a single window covering the image (whole-image inference)."""
        return (len(self._batches) == 1 and len(self._batches[0].boxes) == 1
                and self._batches[0].boxes[0] == (0, self.height, 0, self.width))

    def _upsample(self, batch: _Batch, scores: Tensor) -> Tensor:
        """``scores`` (n, K, gh, gw), windows of ``batch``, at pixel resolution."""
        y1, y2, x1, x2 = batch.boxes[0]
        return upsample_window_scores(scores, (y2 - y1, x2 - x1), batch.padded_size,
                                      batch.padding, self.stretch)

    def render(self, start: int = 0, end: int | None = None) -> Tensor:
        """Scores of channels ``start:end`` at image resolution.

        Returns:
            (1, K, H, W): the upsampled scores of a whole-image pass, or (float32) each pixel's
            mean over the windows covering it.
        """
        if not self._batches:
            raise RuntimeError('no window scores were added')
        end = self.num_outputs if end is None else end
        if self.whole:  # the whole-image pass's own dtype, as its upsampled scores
            batch = self._batches[0]
            return self._upsample(batch, batch.channels(start, end))
        # One window is upsampled at a time (each pixel is its own window's interpolation), so
        # only one window's full-resolution scores exist at once. Channels-last windows are
        # transposed before they are added: adding across layouts is several times slower, and a
        # channels-last canvas would need a second full-size map to transpose it (in 'top' mode,
        # twice each chunk's memory). bfloat16 scores add into the float32 canvas exactly as
        # their float32 copies would.
        total = None
        for batch in self._batches:
            scores = batch.channels(start, end)  # computed once per batch (lazy scores)
            for i, (y1, y2, x1, x2) in enumerate(batch.boxes):
                window = _usual_layout(self._upsample(batch, scores[i:i + 1])[0])
                if total is None:
                    total = window.new_zeros((1, end - start, self.height, self.width),
                                             dtype=torch.float32)
                total[0, :, y1:y2, x1:x2] += window
        return total.div_(self._count(total))

    def _count(self, like: Tensor) -> Tensor:
        """(1, 1, H, W) float32: how many windows cover each pixel (computed once)."""
        if self._coverage is None:
            count = like.new_zeros((1, 1, self.height, self.width))
            for batch in self._batches:
                for y1, y2, x1, x2 in batch.boxes:
                    count[0, :, y1:y2, x1:x2] += 1
            self._coverage = count
        return self._coverage

    def nbytes(self) -> int:
        """Bytes held by the stored window scores."""
        return sum(b.scores.numel() * b.scores.element_size() if isinstance(b.scores, Tensor)
                   else b.scores.nbytes for b in self._batches)


def _usual_layout(window: Tensor) -> Tensor:
    """A (K, h, w) window in the usual layout; a channels-last one by a 2-D transpose (the
    fastest copy), values unchanged."""
    if window.is_contiguous() or not window.permute(1, 2, 0).is_contiguous():
        return window
    channels = window.shape[0]
    return window.permute(1, 2, 0).reshape(-1, channels).t().contiguous().view(window.shape)


class ComputedScores:
    """An image's scores computed in full by other means (a segmentor subclass's own
    ``image_scores``), served with :class:`WindowStore`'s interface.

    Args:
        scores: (1, S, h, w) scores (the segmentor resizes them to the output size).
        space: Their score space.
    """

    def __init__(self, scores: Tensor, space: str) -> None:
        self.scores, self.space = scores, space
        self.height, self.width = scores.shape[-2:]

    @property
    def num_outputs(self) -> int:
        return self.scores.shape[1]

    def render(self, start: int = 0, end: int | None = None) -> Tensor:
        """Channels ``start:end`` of the scores, (1, K, h, w)."""
        return self.scores[:, start:end]

    def nbytes(self) -> int:
        return self.scores.numel() * self.scores.element_size()
