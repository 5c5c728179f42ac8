"""CLIPtrase's cluster vote and CLS re-weighting; NACLIP's renormalisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dense_clip.seg.steps import Prediction, Renormalise, StepContext, cluster_vote, dbscan
from dense_clip.testing import tiny_segmentor


def test_dbscan_follows_its_definition():
    points = torch.tensor([[0.0], [0.5], [1.0], [5.0], [5.4], [5.8], [20.0], [1.4]])
    labels = dbscan(points, eps=0.6, min_samples=3)
    # 0..2 and 7 chain through core points; 3..5 form a second cluster; 6 is noise.
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, -1, 0]
    assert dbscan(points, eps=0.1, min_samples=2).tolist() == [-1] * 8


def test_cluster_vote_takes_majority_label_per_cluster():
    h = w = 4  # left half and right half of the patches correlate among themselves
    side = torch.tensor([c < 2 for _ in range(h) for c in range(w)])
    correlation = (side[:, None] == side[None, :]).float()
    labels = torch.zeros(16, 16, dtype=torch.long)
    labels[:, 8:] = 2
    labels[0:3, 0:3] = 1  # a minority label inside the left cluster
    voted = cluster_vote(labels, correlation, (h, w), eps=0.5, min_samples=2)
    assert (voted[:, :8] == 0).all() and (voted[:, 8:] == 2).all()


def test_cluster_vote_needs_whole_mode_and_a_self_correlation():
    with pytest.raises(ValueError, match="ClusterVote needs test_cfg.mode='whole'"):
        tiny_segmentor(encoder=dict(last_block='cliptrase'),
                       steps=[dict(type='ClusterVote')])
    with pytest.raises(ValueError, match="ClusterVote needs.*self_correlation.*MaskCLIP"):
        tiny_segmentor(test_cfg=dict(mode='whole'), steps=[dict(type='ClusterVote')])
    model = tiny_segmentor(encoder=dict(last_block='cliptrase'), test_cfg=dict(mode='whole'),
                           steps=[dict(type='ClusterVote', eps=0.7, min_samples=3)])
    out = model.predict(torch.randn(1, 3, 32, 32))
    assert out[0].pred_sem_seg.data.shape == (1, 32, 32)


def test_cls_reweight_multiplies_by_image_level_cosine():
    plain = tiny_segmentor(encoder=dict(last_block='cliptrase'), test_cfg=dict(mode='whole'))
    weighted = tiny_segmentor(encoder=dict(last_block='cliptrase'), test_cfg=dict(mode='whole'),
                              steps=[dict(type='ClsReweight')])
    image = torch.randn(1, 3, 32, 32)
    text = plain.text_embeddings(plain.vocabulary)
    image_cos = F.normalize(plain.encoder(image).cls, dim=-1) @ text.t()
    expected = plain.window_scores(image).scores * image_cos[:, :, None, None]
    torch.testing.assert_close(weighted.window_scores(image).scores, expected, rtol=1e-5,
                               atol=1e-6)


def test_renormalise_divides_by_the_class_sum_and_keeps_labels():
    probs = torch.tensor([[[0.6]], [[0.3]], [[0.5]]])  # max over synonyms: no longer sums to 1
    labels = torch.tensor([[[0]]])
    ctx = StepContext(vocabulary=None, text=torch.zeros(3, 2), logit_scale=1.0)
    out = Renormalise()(Prediction(probs=probs.clone(), labels=labels.clone()), ctx)
    torch.testing.assert_close(out.probs, probs / 1.4)
    assert torch.equal(out.labels, labels)
