"""F-ViT: the text-embedding classifier, the VLM fusion against the authors' formula, the frozen
backbone's pyramid, and a training step / prediction of the tiny model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

import dense_clip.det  # noqa: F401
from dense_clip.det.models.roi_heads import FViTBBoxHead, TextEmbeddingClassifier
from dense_clip.registry import DET_MODELS
from dense_clip.testing.detection import tiny_det_config, write_tiny_det_data
from tests.conftest import REPO

CONFIG = REPO / 'configs' / 'fvit' / 'fvit_vit-b16_3e_ov-coco.py'


def test_classifier_is_temperature_times_cosine_with_background():
    torch.manual_seed(0)
    head = TextEmbeddingClassifier(4, 3 + 1, temperature=50.0, background='text')
    classes, bg, x = torch.randn(3, 4), torch.randn(4), torch.randn(5, 4)
    head.set_class_embeddings(classes, bg, torch.tensor([False, True, False]))
    expected = 50 * F.normalize(x, dim=-1) @ F.normalize(torch.cat([classes, bg[None]]), dim=-1).T
    head.eval()
    torch.testing.assert_close(head(x), expected)
    head.train()  # novel classes are masked out in training only
    logits = head(x)
    assert torch.isinf(logits[:, 1]).all() and torch.isfinite(logits[:, [0, 2, 3]]).all()
    assert isinstance(head.temperature, torch.nn.Parameter)


def test_learned_background_starts_from_the_text_and_zero_is_a_zero_logit():
    learned = TextEmbeddingClassifier(4, 3, background='learned')
    bg = torch.tensor([3.0, 0.0, 4.0, 0.0])
    learned.set_class_embeddings(torch.randn(2, 4), bg)
    torch.testing.assert_close(learned.all_embeddings()[-1], bg / 5)
    learned.set_class_embeddings(torch.randn(2, 4), -bg)  # only the first text initialises it
    torch.testing.assert_close(learned.all_embeddings()[-1], bg / 5)
    zero = TextEmbeddingClassifier(4, 3, background='zero', learn_temperature=False)
    zero.set_class_embeddings(torch.randn(2, 4), bg)
    assert zero.eval()(torch.randn(3, 4))[:, -1].abs().max() == 0
    with pytest.raises(ValueError, match='num_classes to the vocabulary size'):
        zero.set_class_embeddings(torch.randn(5, 4))


def test_fusion_matches_the_authors_formula():
    torch.manual_seed(1)
    cls = torch.rand(6, 5).softmax(-1)
    vlm = torch.rand(6, 5).softmax(-1)
    novel = torch.tensor([False, True, False, True])
    ours = FViTBBoxHead.fuse(cls, vlm, novel, alpha=0.1, beta=0.8)
    # wusize/CLIPSelf F-ViT/models/fvit_head.py: base_idx includes the background column
    base = torch.tensor([True, False, True, False, True])
    ref = cls.clone()
    ref[:, base] = cls[:, base] ** 0.9 * vlm[:, base] ** 0.1
    ref[:, ~base] = cls[:, ~base] ** 0.2 * vlm[:, ~base] ** 0.8
    torch.testing.assert_close(ours, ref)


@pytest.fixture(scope='module')
def tiny_fvit(tmp_path_factory):
    init_default_scope('mmdet')
    root = write_tiny_det_data(tmp_path_factory.mktemp('fvit_data'))
    cfg = tiny_det_config(Config.fromfile(CONFIG), root, tmp_path_factory.mktemp('fvit_work'))
    torch.manual_seed(0)
    model = DET_MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def batch(model, cfg, train: bool):
    from mmengine.dataset import pseudo_collate

    from dense_clip.registry import DET_DATASETS

    loader = cfg.train_dataloader if train else cfg.test_dataloader
    dataset = DET_DATASETS.build(loader.dataset)
    data = pseudo_collate([dataset[0], dataset[1]])
    return model.data_preprocessor(data, training=train)


def test_pyramid_levels_and_frozen_clip(tiny_fvit):
    model, cfg = tiny_fvit
    data = batch(model, cfg, train=True)
    *levels, dense = model.backbone(data['inputs'])
    grid = data['inputs'].shape[-1] // 16
    assert [level.shape[-1] for level in levels] == [grid * 4, grid * 2, grid, grid // 2]
    assert dense.dense.shape[1] == model.backbone.embed_dim
    model.train()
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k and torch.is_tensor(v))
    total.backward()
    assert all(p.grad is None for p in model.backbone.clip_model.parameters())
    assert model.backbone.interpolate1[0].weight.grad is not None
    assert model.roi_head.bbox_head.classifier.temperature.grad is not None
    model.zero_grad()


def test_vlm_scores_come_from_the_region_encoder(tiny_fvit):
    model, cfg = tiny_fvit
    model.eval()
    data = batch(model, cfg, train=False)
    with torch.no_grad():
        x, dense = model._features(data['inputs'])
        model._set_class_embeddings()
        rois = torch.tensor([[0, 2.0, 3.0, 30.0, 40.0], [1, 10.0, 10.0, 60.0, 50.0]])
        head = model.roi_head
        plain = head._bbox_forward(x, rois)['cls_score']
        with head.using(dense=dense, region=model.vlm_region):
            fused = head._bbox_forward(x, rois)['cls_score']
        classifier = head.bbox_head.classifier
        vlm = F.normalize(model.vlm_region.encode_rois(dense, rois), dim=-1)
        vlm_probs = (vlm @ classifier.all_embeddings().T * head.vlm_temperature).softmax(-1)
    expected = FViTBBoxHead.fuse(plain, vlm_probs, classifier.novel, head.alpha, head.beta)
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(plain.sum(-1), torch.ones(2))  # probabilities
    assert classifier.novel.sum() == 6  # the synthetic split's unseen classes


def test_predict_returns_detections(tiny_fvit):
    model, cfg = tiny_fvit
    model.eval()
    data = batch(model, cfg, train=False)
    with torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'])
    pred = samples[0].pred_instances
    assert pred.bboxes.shape[1] == 4 and pred.scores.shape == pred.labels.shape
    assert bool((pred.labels < 24).all()) and bool((pred.scores <= 1).all())
