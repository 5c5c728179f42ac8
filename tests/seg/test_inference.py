"""Pure inference functions: mmseg's window grid, window averaging, the final decision."""

from __future__ import annotations

import pytest
import torch

from dense_clip.seg.inference import finalise_prediction, slide_logits, window_grid


def test_window_grid_follows_mmseg_and_covers_image():
    boxes = window_grid(50, 70, crop=(32, 32), stride=(16, 16))
    assert boxes[0] == (0, 32, 0, 32)
    assert boxes[-1] == (18, 50, 38, 70)  # last windows shifted back to the border
    cover = torch.zeros(50, 70)
    for y1, y2, x1, x2 in boxes:
        assert (y2 - y1, x2 - x1) == (32, 32)
        cover[y1:y2, x1:x2] += 1
    assert cover.min() >= 1
    assert window_grid(20, 24, (32, 32), (16, 16)) == [(0, 20, 0, 24)]


def test_slide_logits_average_matches_manual_average():
    image = torch.arange(2 * 40 * 40, dtype=torch.float32).reshape(1, 2, 40, 40)
    out = slide_logits(image, lambda w: w * 2, 2, crop=(32, 32), stride=(8, 8))
    torch.testing.assert_close(out, image * 2)  # every window sees the same pixel values


def test_finalise_prediction_synonym_max_and_thresholds():
    logits = torch.tensor([[[0.30]], [[0.10]], [[0.25]], [[0.0]]])  # names of 3 classes
    per_name_probs = (logits * 10).softmax(0)
    index = torch.tensor([0, 1, 1, 2])
    probs, labels = finalise_prediction(per_name_probs, index, 3)
    p = per_name_probs[:, 0, 0]
    torch.testing.assert_close(probs[:, 0, 0], torch.stack([p[0], p[1:3].max(), p[3]]))
    assert labels.item() == 0
    sub = (logits[1:] * 10).softmax(0)
    _, labels = finalise_prediction(sub, torch.tensor([1, 1, 2]), 3, prob_thresh=0.99)
    assert labels.item() == 0  # too unsure: class 0


def test_area_threshold_drops_small_classes():
    logits = torch.zeros(3, 10, 10)
    logits[1] = 1.0
    logits[2, 0, 0] = 5.0  # class 2 wins one pixel out of 100
    probs = (logits * 10).softmax(0)
    _, labels = finalise_prediction(probs, torch.arange(3), 3, area_thresh=0.05)
    assert (labels == 1).all()
    _, labels = finalise_prediction(probs, torch.arange(3), 3, area_thresh=None)
    assert labels[0, 0, 0] == 2


def test_finalise_prediction_rejects_a_mismatched_index():
    with pytest.raises(ValueError, match='name channels'):
        finalise_prediction(torch.rand(3, 2, 2), torch.tensor([0, 1]), 2)
