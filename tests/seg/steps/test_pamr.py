"""PAMR: shapes, invariants, edge alignment, and one step against a per-pixel computation."""

from __future__ import annotations

import pytest
import torch

from dense_clip.seg.steps import NACLIP_DILATIONS, PAMR, PAPER_DILATIONS


def naive_pamr_step(image: torch.Tensor, masks: torch.Tensor, dilations) -> torch.Tensor:
    """One PAMR step for a single image, pixel by pixel, from the paper's definition.

    image (K, H, W), masks (C, H, W); out-of-image neighbours take the nearest border pixel.
    """
    _, height, width = image.shape
    out = torch.zeros_like(masks)
    for y in range(height):
        for x in range(width):
            neighbours, window = [], []
            for d in dilations:
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny = min(max(y + dy * d, 0), height - 1)
                        nx = min(max(x + dx * d, 0), width - 1)
                        window.append((ny, nx))  # the std window includes the centre
                        if (dy, dx) != (0, 0):
                            neighbours.append((ny, nx))
            values = torch.stack([image[:, ny, nx] for ny, nx in window], dim=1)  # (K, 9 * D)
            sigma = values.std(dim=1, unbiased=True)  # (K,)
            kappa = torch.stack([
                (-(image[:, y, x] - image[:, ny, nx]).abs() / (1e-8 + 0.1 * sigma)).mean()
                for ny, nx in neighbours])
            alpha = torch.softmax(kappa, dim=0)
            out[:, y, x] = sum(a * masks[:, ny, nx] for a, (ny, nx) in zip(alpha, neighbours))
    return out


def test_settings_and_shapes():
    pamr = PAMR()
    assert pamr.num_iter == 10 and pamr.dilations == PAPER_DILATIONS == (1, 2, 4, 8, 12, 24)
    assert NACLIP_DILATIONS == (8, 16)
    assert list(pamr.parameters()) == []
    image = torch.randn(2, 3, 16, 20)
    masks = torch.randn(2, 4, 8, 10)
    out = PAMR(num_iter=2, dilations=(1, 2)).refine(image, masks)
    assert out.shape == (2, 4, 16, 20) and out.dtype == masks.dtype
    resized = PAMR(num_iter=0).refine(image, masks)
    assert resized.shape == (2, 4, 16, 20)
    assert torch.equal(PAMR(num_iter=0).refine(image, out), out)
    # dilations larger than the image still work (borders are replicated)
    assert PAMR(num_iter=1, dilations=(24,)).refine(image, out).shape == out.shape


def test_invalid_arguments():
    with pytest.raises(ValueError, match='dilations'):
        PAMR(dilations=())
    with pytest.raises(ValueError, match='dilations'):
        PAMR(dilations=(0, 1))
    with pytest.raises(ValueError, match='num_iter'):
        PAMR(num_iter=-1)
    with pytest.raises(ValueError, match='4-D'):
        PAMR().refine(torch.randn(3, 8, 8), torch.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match='batch sizes'):
        PAMR().refine(torch.randn(2, 3, 8, 8), torch.randn(1, 2, 8, 8))


def test_constant_image_and_constant_map():
    image = torch.full((1, 3, 12, 12), 0.7)
    pamr = PAMR(num_iter=5, dilations=(1, 2, 4))
    affinity = pamr.affinity(image)
    torch.testing.assert_close(affinity, torch.full_like(affinity, 1 / 24))
    masks = torch.tensor([0.25, -3.0]).view(1, 2, 1, 1).expand(1, 2, 12, 12).contiguous()
    torch.testing.assert_close(pamr.refine(image, masks), masks)


def test_half_precision_flat_image_stays_finite():
    image = torch.zeros(1, 3, 8, 8, dtype=torch.float16)
    image[..., 4:] = 1
    masks = torch.randn(1, 2, 8, 8).half()
    out = PAMR(num_iter=2, dilations=(1, 2)).refine(image, masks)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    expected = PAMR(num_iter=2, dilations=(1, 2)).refine(image.float(), masks.float())
    torch.testing.assert_close(out.float(), expected, atol=2e-3, rtol=2e-3)


def test_probabilities_stay_probabilities_and_batch_items_are_independent():
    torch.manual_seed(0)
    image = torch.randn(2, 3, 10, 14)
    probs = torch.randn(2, 5, 10, 14).softmax(dim=1)
    pamr = PAMR(num_iter=3, dilations=(1, 3))
    out = pamr.refine(image, probs)
    torch.testing.assert_close(out.sum(dim=1), torch.ones(2, 10, 14))
    assert out.min() >= 0
    torch.testing.assert_close(out[1:], pamr.refine(image[1:], probs[1:]))


def test_one_step_matches_per_pixel_computation():
    torch.manual_seed(0)
    image = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    masks = torch.randn(1, 3, 5, 6, dtype=torch.float64)
    dilations = (1, 2)
    out = PAMR(num_iter=1, dilations=dilations).refine(image, masks)
    expected = naive_pamr_step(image[0], masks[0], dilations)
    torch.testing.assert_close(out[0], expected, atol=1e-10, rtol=1e-8)
    two = PAMR(num_iter=2, dilations=dilations).refine(image, masks)
    torch.testing.assert_close(two[0], naive_pamr_step(image[0], expected, dilations),
                               atol=1e-10, rtol=1e-8)


def test_refinement_snaps_a_noisy_mask_to_the_image_edge():
    torch.manual_seed(0)
    size, edge = 32, 13
    truth = torch.zeros(size, size, dtype=torch.long)
    truth[:, edge:] = 1  # two regions split by a vertical edge at column 13
    image = torch.where(truth.bool(), 1.0, -1.0).expand(1, 3, size, size).contiguous()
    image = image + 0.05 * torch.randn_like(image)
    # A coarse, noisy prediction: the boundary 3 px off (as a low-resolution map would be), plus
    # noise strong enough to flip many pixels.
    coarse = torch.zeros(size, size)
    coarse[:, edge + 3:] = 1
    logits = torch.stack([1 - coarse, coarse])[None] * 2 - 1
    logits = logits + 1.2 * torch.randn_like(logits)
    before = (logits.argmax(1)[0] == truth).float().mean()
    refined = PAMR(num_iter=10, dilations=(1, 2, 4, 8)).refine(image, logits)
    after = (refined.argmax(1)[0] == truth).float().mean()
    assert before < 0.85
    assert after > 0.97 and after > before
    # the wrongly labelled strip next to the edge is now right
    assert (refined.argmax(1)[0][:, edge:edge + 3] == 1).float().mean() > 0.9
