"""CATSegSegmentor: inference modes, vocabularies (one class, >256 classes, synonyms), the loss,
bad input, and the weights it loads."""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from dense_clip.testing import tiny_catseg_segmentor
from dense_clip.utils.checkpoint import CheckpointError


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmseg')


def sample(img_shape, ori_shape=None, vocabulary=None, label=None):
    from mmseg.structures import SegDataSample

    meta = dict(img_shape=img_shape, ori_shape=ori_shape or img_shape)
    if vocabulary is not None:
        meta['vocabulary'] = vocabulary
    s = SegDataSample(metainfo=meta)
    if label is not None:
        s.gt_sem_seg = PixelData(data=label[None])
    return s


def image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('mode', ['slide', 'whole'])
def test_predict_gives_probabilities_and_labels_at_original_size(mode):
    model = tiny_catseg_segmentor(test_cfg=dict(mode=mode))
    out = model.predict(image(50, 70), [sample((50, 70), (100, 140))])[0]
    probs, labels = out.seg_logits.data, out.pred_sem_seg.data
    assert probs.shape == (3, 100, 140) and labels.shape == (1, 100, 140)
    assert probs.min() >= 0 and probs.max() <= 1
    assert torch.equal(labels[0], probs.argmax(dim=0))


def test_slide_on_an_image_smaller_than_the_window():
    model = tiny_catseg_segmentor()  # 48 px windows on an 80x80 frame
    out = model.predict(image(20, 30), [sample((20, 30))])[0]
    assert out.seg_logits.data.shape == (3, 20, 30)
    assert torch.isfinite(out.seg_logits.data).all()


def test_one_class_vocabulary():
    model = tiny_catseg_segmentor()
    out = model.predict(image(32, 32), [sample((32, 32), vocabulary=['cat'])])[0]
    assert out.seg_logits.data.shape == (1, 32, 32)
    assert (out.pred_sem_seg.data == 0).all()


def test_more_than_256_classes_go_through_the_top_k():
    model = tiny_catseg_segmentor(test_cfg=dict(mode='whole'))
    names = [f'thing number {i}' for i in range(300)]
    out = model.predict(image(32, 32), [sample((32, 32), vocabulary=names)])[0]
    probs = out.seg_logits.data
    assert probs.shape == (300, 32, 32)
    # 44 classes outside the top 256 have logit -100 everywhere.
    assert int((probs.amax(dim=(1, 2)) < 1e-30).sum()) == 300 - 256


def test_synonyms_all_scores_a_class_by_its_best_name():
    model = tiny_catseg_segmentor(text=dict(synonyms='all'), test_cfg=dict(mode='whole'))
    x = image(32, 32)
    grouped = model.predict(x, [sample((32, 32), vocabulary=['cat', 'dog, puppy'])])[0]
    names = model.predict(x, [sample((32, 32), vocabulary=['cat', 'dog', 'puppy'])])[0]
    g, n = grouped.seg_logits.data, names.seg_logits.data
    torch.testing.assert_close(g[0], n[0])
    torch.testing.assert_close(g[1], n[1:].amax(dim=0))
    first = tiny_catseg_segmentor(test_cfg=dict(mode='whole'))  # the authors: first alias only
    assert first.text_embeddings(first.vocabulary_of({'vocabulary': ['dog, puppy']}))[0] \
        .shape[0] == 1


def test_loss_is_the_authors_bce_and_checks_labels():
    model = tiny_catseg_segmentor().train()
    label = torch.randint(0, 3, (64, 64))
    label[:4] = 255
    losses = model.loss(image(64, 64), [sample((64, 64), label=label)])
    assert set(losses) == {'loss_sem_seg'} and torch.isfinite(losses['loss_sem_seg'])
    losses['loss_sem_seg'].backward()
    assert model.catseg.aggregator.cost_embed.weight.grad is not None
    bad = label.clone()
    bad[10, 10] = 7
    with pytest.raises(ValueError, match='label 7 is outside the 3 training classes'):
        model.loss(image(64, 64), [sample((64, 64), label=bad)])


def test_training_vocabulary_is_used_for_the_loss():
    model = tiny_catseg_segmentor(text=dict(train_vocabulary=['cat', 'sky'])).train()
    label = torch.randint(0, 2, (64, 64))
    assert torch.isfinite(model.loss(image(64, 64), [sample((64, 64), label=label)])
                          ['loss_sem_seg'])
    assert model.vocabulary_of({}, training=True).num_classes == 2
    assert model.vocabulary_of({}).num_classes == 3


def test_text_cache_is_dropped_on_train_and_on_load():
    model = tiny_catseg_segmentor()
    model.text_embeddings(model.vocabulary_of({}))
    assert model._text_cache
    model.train()
    assert not model._text_cache
    model.eval()
    model.text_embeddings(model.vocabulary_of({}))
    model.load_state_dict(model.state_dict())
    assert not model._text_cache


@pytest.mark.parametrize('overrides, message', [
    (dict(test_cfg=dict(mode='tiles')), 'test_cfg.mode'),
    (dict(test_cfg=dict(windows=3)), "unknown test_cfg setting(s) ['windows']"),
    (dict(text=dict(synonyms='mean')), "unknown synonyms mode 'mean'"),
    (dict(finetune='prompt'), "unknown finetune mode 'prompt'"),
    (dict(test_cfg=dict(overlap=1.0)), 'overlap'),
])
def test_bad_settings_are_clear_errors(overrides, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(')', r'\)')
                       .replace('[', r'\[').replace(']', r'\]')):
        tiny_catseg_segmentor(**overrides)


def test_no_vocabulary_is_a_clear_error():
    model = tiny_catseg_segmentor(text=dict(vocabulary=None))
    with pytest.raises(ValueError, match='no vocabulary'):
        model.predict(image(32, 32), [sample((32, 32))])


def test_weights_round_trip_through_a_file(tmp_path):
    source = tiny_catseg_segmentor(seed=1)
    path = tmp_path / 'catseg.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    model = tiny_catseg_segmentor(seed=2, weights=str(path))
    x = image(32, 32)
    assert not torch.equal(model.predict(x)[0].seg_logits.data,
                           source.predict(x)[0].seg_logits.data)
    model.init_weights()
    torch.testing.assert_close(model.predict(x)[0].seg_logits.data,
                               source.predict(x)[0].seg_logits.data)


def test_weights_with_unknown_keys_are_listed(tmp_path):
    state = dict(tiny_catseg_segmentor().state_dict())
    state['catseg.aggregator.extra_head.weight'] = torch.zeros(2)
    state['catseg.something_else'] = torch.zeros(1)
    path = tmp_path / 'extra.pth'
    torch.save({'state_dict': state}, path)
    model = tiny_catseg_segmentor(weights=str(path))
    with pytest.raises(CheckpointError,
                       match='2 key.*aggregator.extra_head.weight.*something_else'):
        model.init_weights()
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        tiny_catseg_segmentor(weights=str(tmp_path / 'absent.pth')).init_weights()


def test_large_outputs_keep_labels_and_log(monkeypatch):
    from dense_clip.seg.catseg import catseg_segmentor

    model = tiny_catseg_segmentor(test_cfg=dict(mode='whole'))
    x = image(32, 32)
    full = model.predict(x, [sample((32, 32), (90, 70))])[0]
    monkeypatch.setattr(catseg_segmentor, 'MAX_FULL_PROBS', 100)
    chunked = model.predict(x, [sample((32, 32), (90, 70))])[0]
    assert torch.equal(chunked.pred_sem_seg.data, full.pred_sem_seg.data)
    assert chunked.seg_logits.data.shape[-2:] != (90, 70)  # left on the inference frame


def test_a_name_that_fills_the_context_warns():
    model = tiny_catseg_segmentor()
    long_name = ' '.join(['very'] * 100) + ' long name'
    with pytest.warns(UserWarning, match='fill the text context of 77 tokens'):
        model.text_embeddings(model.vocabulary_of({'vocabulary': ['cat', long_name]}))
