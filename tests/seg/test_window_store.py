"""WindowStore's rendering against the plain sliding-window average (mmseg's slide inference:
each batch of windows upsampled, cast to float32, added into a (1, K, H, W) canvas in window
order, divided by the coverage): the same values bit for bit, whatever the scores' dtype and
memory layout."""

from __future__ import annotations

import pytest
import torch

from dense_clip.seg.window_store import WindowStore, upsample_window_scores

BOXES = [(0, 20, 0, 20), (0, 20, 19, 39), (10, 30, 0, 20), (10, 30, 19, 39), (5, 25, 9, 29)]


def _reference(batches, height, width, stretch):
    total = torch.zeros(1, batches[0][1].shape[1], height, width)
    count = torch.zeros(1, 1, height, width)
    for boxes, scores in batches:
        y1, y2, x1, x2 = boxes[0]
        up = upsample_window_scores(scores, (y2 - y1, x2 - x1), (24, 24), (2, 2, 2, 2),
                                    stretch).float()
        for (y1, y2, x1, x2), window in zip(boxes, up):
            total[0, :, y1:y2, x1:x2] += window
            count[0, :, y1:y2, x1:x2] += 1
    return total / count


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
@pytest.mark.parametrize('layout', ['channels_last', 'contiguous'])
@pytest.mark.parametrize('stretch', [False, True])
def test_render_equals_the_plain_window_average(dtype, layout, stretch):
    torch.manual_seed(0)
    store = WindowStore(30, 39, stretch=stretch)
    batches = []
    for i in range(0, len(BOXES), 3):
        boxes = BOXES[i:i + 3]
        scores = torch.randn(len(boxes), 3, 3, 7).to(dtype).permute(0, 3, 1, 2)  # as heads give
        if layout == 'contiguous':
            scores = scores.contiguous()
        store.add(boxes, scores, 'cosine', (24, 24), (2, 2, 2, 2))
        batches.append((boxes, scores))
    expected = _reference(batches, 30, 39, stretch)
    got = store.render()
    assert got.dtype == torch.float32 and got.is_contiguous()
    assert torch.equal(got, expected)
    assert torch.equal(store.render(2, 5), expected[:, 2:5])


class _CountingLazyScores:
    """Lazy scores (as ``SegHead.lazy_scores`` gives them) that count their computations."""

    def __init__(self, scores: torch.Tensor) -> None:
        self.scores, self.calls = scores, 0
        self.shape = scores.shape
        self.nbytes = scores.numel() * scores.element_size()

    def channels(self, start: int, end: int) -> torch.Tensor:
        self.calls += 1
        return self.scores[:, start:end].contiguous()


def test_lazy_scores_are_computed_once_per_batch_and_range():
    torch.manual_seed(0)
    plain, lazy = WindowStore(30, 39), WindowStore(30, 39)
    counters = []
    for i in range(0, len(BOXES), 3):
        boxes = BOXES[i:i + 3]
        scores = torch.randn(len(boxes), 7, 3, 3)
        plain.add(boxes, scores, 'cosine', (24, 24), (2, 2, 2, 2))
        counters.append(_CountingLazyScores(scores))
        lazy.add(boxes, counters[-1], 'cosine', (24, 24), (2, 2, 2, 2))
    assert torch.equal(lazy.render(1, 4), plain.render(1, 4))
    assert [c.calls for c in counters] == [1, 1]
