"""Mask pooling, classification and voting on crafted features."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.masks import (
    MaskProposals,
    classify_masks,
    mask_majority,
    mask_mean_probs,
    mask_pool,
    masks_to_boxes,
    paint_masks,
    vote_in_masks,
)
from dense_clip.models.text import Vocabulary


def _orthonormal(n: int, d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    return q[:n]


@pytest.mark.parametrize('size', [(32, 40), (37, 53), (683, 1024), (3, 4)])
def test_pooling_equals_the_pixel_average_of_upsampled_features(size):
    torch.manual_seed(0)
    features = torch.randn(6, 4, 5)  # (D, h, w)
    masks = torch.rand(7, *size) > 0.6
    masks[0] = False
    masks[0, 0, 0] = True  # one pixel
    pooled = mask_pool(features, masks)
    up = F.interpolate(features[None], size=size, mode='nearest')[0]  # (D, H, W)
    expected = torch.stack([up[:, m].mean(dim=1) for m in masks])
    torch.testing.assert_close(pooled, expected)


def test_pooling_handles_any_mask_size_and_empty_masks():
    features = torch.randn(3, 4, 4)
    masks = torch.zeros(3, 50, 37, dtype=torch.bool)
    masks[0, 2, 3] = True  # a single pixel, smaller than any cell
    masks[1] = True
    pooled = mask_pool(features, masks)
    assert pooled.shape == (3, 3)
    up = F.interpolate(features[None], size=(50, 37), mode='nearest')[0]
    torch.testing.assert_close(pooled[1], up.mean(dim=(1, 2)))  # whole image: every pixel
    assert pooled[2].abs().sum() == 0
    assert torch.isfinite(pooled).all()
    assert mask_pool(features, torch.zeros(0, 8, 8, dtype=torch.bool)).shape == (0, 3)


def test_a_masks_label_is_the_class_whose_text_matches_its_pooled_feature():
    # Crafted features: each region of the image carries one class's text embedding (plus a
    # component orthogonal to every class). A mask over a region, or over most of it, pools to
    # a feature closest to that class.
    basis = _orthonormal(5, 16)
    text, other = basis[:4], basis[4]
    features = torch.zeros(16, 4, 4)
    regions = {0: (slice(0, 2), slice(0, 2)), 3: (slice(0, 2), slice(2, 4)),
               1: (slice(2, 4), slice(0, 4))}
    for cls, (rows, cols) in regions.items():
        features[:, rows, cols] = (text[cls] + 0.5 * other)[:, None, None]
    masks = torch.zeros(4, 32, 32, dtype=torch.bool)
    masks[0, :16, :16] = True                   # region of class 0
    masks[1, :16, 16:] = True                   # class 3
    masks[2, 16:, :] = True                     # class 1
    masks[3, :16, :16] = True
    masks[3, 16:20, :8] = True                  # mostly class 0, a bit of class 1
    pooled = mask_pool(features, masks)
    vocabulary = Vocabulary(['a', 'b', 'c', 'd'])
    result = classify_masks(pooled, text, vocabulary.synonym_index(), vocabulary.num_classes)
    matching = (F.normalize(pooled, dim=-1) @ text.T).argmax(dim=1)
    assert result.labels.tolist() == [0, 3, 1, 0] == matching.tolist()
    assert result.is_object.all()
    torch.testing.assert_close(result.scores, result.probs.max(dim=1).values)


def test_synonyms_count_by_their_best_name_and_background_means_no_object():
    basis = _orthonormal(4, 8)
    vocabulary = Vocabulary(['cat, kitten', 'dog'], background='sky, wall')
    # names: sky, wall, cat, kitten, dog
    text = torch.stack([basis[0], basis[1], basis[2], basis[3], basis[2] * 0.6 + basis[3] * 0.8])
    text = F.normalize(text, dim=-1)
    embeddings = torch.stack([basis[3], basis[1], basis[2] * 0.6 + basis[3] * 0.8,
                              torch.zeros(8)])
    result = classify_masks(embeddings, text, vocabulary.synonym_index(),
                            vocabulary.num_classes, logit_scale=50.0,
                            background_index=vocabulary.background_index)
    assert result.labels[:3].tolist() == [1, 0, 2]  # kitten -> cat; wall -> background; dog
    assert result.is_object.tolist() == [True, False, True, False]  # zero embedding: no object
    strict = classify_masks(embeddings, text, vocabulary.synonym_index(),
                            vocabulary.num_classes, logit_scale=1.0, score_thresh=0.9)
    assert not strict.is_object.any()  # nothing is that sure at a low logit scale


def test_classification_rejects_an_empty_vocabulary_and_mismatched_widths():
    with pytest.raises(ValueError, match='vocabulary is empty'):
        Vocabulary([])
    with pytest.raises(ValueError, match='vocabulary is empty'):
        classify_masks(torch.randn(2, 8), torch.zeros(0, 8), torch.zeros(0, dtype=torch.long), 0)
    with pytest.raises(ValueError, match='width D'):
        classify_masks(torch.randn(2, 8), torch.randn(3, 4), torch.arange(3), 3)
    none = classify_masks(torch.zeros(0, 8), F.normalize(torch.randn(3, 8), dim=-1),
                          torch.arange(3), 3)
    assert none.labels.shape == (0,) and none.probs.shape == (0, 3)


def test_boxes_proposals_and_size_checks():
    masks = torch.zeros(2, 10, 12, dtype=torch.bool)
    masks[0, 2:5, 3:9] = True
    boxes = masks_to_boxes(masks)
    assert boxes.tolist() == [[3, 2, 9, 5], [0, 0, 0, 0]]
    proposals = MaskProposals.from_masks(masks)
    assert len(proposals) == 2 and proposals.scores.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match='masks of 10x12 for an image of 20x24'):
        proposals.check_image_size(20, 24)
    with pytest.raises(ValueError, match=r'\(N,\) scores'):
        MaskProposals(masks, torch.ones(3), boxes)
    assert len(MaskProposals.empty(4, 5)) == 0


def test_painting_lets_the_better_mask_win_overlaps():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :3, :3] = True
    masks[1, 1:, 1:] = True
    fill = torch.full((4, 4), 9)
    painted = paint_masks(masks, torch.tensor([1, 2]), torch.tensor([0.9, 0.5]), fill)
    assert painted[1, 1] == 1 and painted[3, 3] == 2 and painted[0, 3] == 9
    painted = paint_masks(masks, torch.tensor([1, 2]), torch.tensor([0.1, 0.5]), fill)
    assert painted[1, 1] == 2
    with pytest.raises(ValueError, match='masks are 4x4 but the label map is 5x5'):
        paint_masks(masks, torch.tensor([1, 2]), torch.ones(2), torch.zeros(5, 5).long())


def test_voting_majority_mean_probability_and_agreement():
    labels = torch.zeros(6, 6, dtype=torch.long)
    labels[:, 3:] = 2
    labels[0, 0] = 1  # noise inside the left mask
    masks = torch.zeros(3, 6, 6, dtype=torch.bool)
    masks[0, :, :3] = True
    masks[1, :, 3:] = True
    masks[2, :, 2:4] = True  # half 0, half 2: a weak mask
    winners, shares = mask_majority(labels, masks, 3)
    assert winners.tolist() == [0, 2, 0] and shares[0] == pytest.approx(17 / 18)
    voted = vote_in_masks(labels, masks[:2], torch.tensor([0.9, 0.9]), 3)
    assert voted[0, 0] == 0 and (voted[:, 3:] == 2).all()
    kept = vote_in_masks(labels, masks, torch.tensor([0.5, 0.5, 0.9]), 3, min_agreement=0.6)
    assert (kept[:, 3] == 2).all()  # the weak mask did not vote
    probs = torch.zeros(3, 6, 6)
    probs[0] = 0.4
    probs[1] = 0.6  # class 1 is the mean-probability winner though 0 holds most labels
    mean = mask_mean_probs(probs, masks)
    torch.testing.assert_close(mean[0], torch.tensor([0.4, 0.6, 0.0]))
    voted = vote_in_masks(labels, masks[:1], torch.ones(1), 3, mode='mean_prob', probs=probs)
    assert (voted[:, :3] == 1).all()
    with pytest.raises(ValueError, match="valid: \\('majority', 'mean_prob'\\)"):
        vote_in_masks(labels, masks, torch.ones(3), 3, mode='mode')
    assert torch.equal(vote_in_masks(labels, masks[:0], torch.ones(0), 3), labels)
