"""Bounded-memory prediction (``test_cfg.probs='top'``) against the exact path, the memory
guards ('full' over its limit, 'whole' over its token limit) and the window store."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from mmseg.structures import SegDataSample

import dense_clip.seg.segmentors.open_vocab_segmentor as segmentor_module
from dense_clip.seg.inference import check_whole_image_tokens, finalise_prediction
from dense_clip.seg.top_class import TopClassAccumulator, class_chunks, stream_decision
from dense_clip.seg.window_store import WindowStore
from dense_clip.testing import tiny_segmentor
from tests.seg.test_regression import SPEC, build_case, fixed_image


def _sample(height, width, ori=None, flip=None):
    meta = dict(img_shape=(height, width), ori_shape=ori or (height, width))
    if flip:
        meta.update(flip=True, flip_direction=flip)
    return SegDataSample(metainfo=meta)


def _predict(model, image, probs, **meta):
    model.settings = dataclasses.replace(model.settings, probs=probs)
    sample = model.predict(image.clone(), [_sample(*image.shape[-2:], **meta)])[0]
    return sample.seg_logits.data, sample.pred_sem_seg.data


@pytest.mark.parametrize('name', sorted(SPEC['cases']))
def test_top_mode_equals_the_exact_decision_for_every_method(name, tmp_path, monkeypatch):
    """Every pinned method: labels identical, top probability = max of the exact class
    probabilities (after NACLIP's renormalisation), with classes streamed 2-3 names at a time,
    an output size other than the input's and a flip."""
    model = build_case(name, tmp_path)
    image = fixed_image(SPEC['cases'][name].get('image_scale', 1))
    height, width = image.shape[-2:]
    meta = dict(ori=(height + 13, width * 2), flip='horizontal')
    monkeypatch.setattr(segmentor_module, '_CHUNK_BYTES', 4 * 3 * (height + 13) * width * 2)
    rendered = []
    render = segmentor_module.WindowStore.render
    monkeypatch.setattr(segmentor_module.WindowStore, 'render',
                        lambda self, start=0, end=None: rendered.append(
                            (end or self.num_outputs) - start) or render(self, start, end))
    full_probs, full_labels = _predict(model, image, 'full', **meta)
    assert rendered == [len(model.vocabulary.synonyms)]
    rendered.clear()
    top_probs, top_labels = _predict(model, image, 'top', **meta)
    assert len(rendered) >= 3 and max(rendered) <= 3  # never all names at once
    assert top_probs.shape == (1, height + 13, width * 2)
    assert torch.equal(top_labels, full_labels)
    # probabilities to float32 rounding: the streamed softmax, and cosine scores recomputed
    # from the kept features (x logit_scale up to 100)
    torch.testing.assert_close(top_probs, full_probs.max(dim=0, keepdim=True).values,
                               rtol=5e-5, atol=1e-6)


def test_area_threshold_second_pass_matches(tmp_path, monkeypatch):
    model = build_case('sclip', tmp_path)  # area_thresh 0.1, prob_thresh 0.1
    model.area_thresh = 0.3  # drops classes on this image: the second pass runs
    image = fixed_image()
    monkeypatch.setattr(segmentor_module, '_CHUNK_BYTES', 4 * 2 * image.shape[-2:].numel())
    passes = []
    add_kept = TopClassAccumulator.add_kept
    monkeypatch.setattr(TopClassAccumulator, 'add_kept',
                        lambda self, *a: passes.append(1) or add_kept(self, *a))
    full_probs, full_labels = _predict(model, image, 'full')
    top_probs, top_labels = _predict(model, image, 'top')
    assert passes, 'the area threshold dropped no class: the second pass was not tested'
    assert torch.equal(top_labels, full_labels)
    torch.testing.assert_close(top_probs, full_probs.max(dim=0, keepdim=True).values,
                               rtol=1e-5, atol=1e-6)


def _random_case(space, seed=0):
    torch.manual_seed(seed)
    class_index = torch.tensor([0, 1, 1, 2, 3, 3, 3, 4, 5, 6, 6])
    scores = torch.randn(1, len(class_index), 9, 7)
    if space == 'prob':
        scores = scores.softmax(dim=1)
    elif space == 'cosine':
        scores = scores * 0.05
    return scores, class_index


@pytest.mark.parametrize('space', ['cosine', 'logit', 'prob'])
@pytest.mark.parametrize('area, prob_thresh', [(None, 0.0), (0.15, 0.3), (0.05, 0.0)])
@pytest.mark.parametrize('max_names', [1, 3, 100])
def test_stream_decision_matches_finalise_prediction(space, area, prob_thresh, max_names):
    from dense_clip.seg.steps import Prediction, to_name_probs

    scores, class_index = _random_case(space)
    probs, labels = finalise_prediction(to_name_probs(scores, space, 40.0)[0], class_index, 7,
                                        area, prob_thresh)
    chunks = class_chunks(class_index, max_names)
    got = stream_decision(lambda a, b: Prediction(scores[:, a:b], space), chunks, class_index,
                          40.0, 7, area, prob_thresh)
    assert torch.equal(got.labels, labels)
    torch.testing.assert_close(got.probs, probs.max(dim=0, keepdim=True).values, rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(got.prob_sum, probs.sum(dim=0, keepdim=True), rtol=1e-5,
                               atol=1e-6)


def test_ties_go_to_the_lower_class_like_argmax():
    from dense_clip.seg.steps import Prediction

    class_index = torch.tensor([0, 1, 2, 2])
    scores = torch.tensor([0.0, 2.0, 1.0, 2.0]).reshape(1, 4, 1, 1)  # classes 1 and 2 tie
    got = stream_decision(lambda a, b: Prediction(scores[:, a:b], 'logit'), [(0, 2), (2, 4)],
                          class_index, 1.0, 3)
    assert got.labels.item() == 1


def test_class_chunks_keep_classes_whole():
    index = torch.tensor([0, 1, 1, 2, 3, 3, 3, 4])
    assert class_chunks(index, 3) == [(0, 3), (3, 4), (4, 7), (7, 8)]
    assert class_chunks(index, 1) == [(0, 1), (1, 3), (3, 4), (4, 7), (7, 8)]
    assert class_chunks(index, 100) == [(0, 8)]
    with pytest.raises(ValueError, match='grouped by class'):
        class_chunks(torch.tensor([0, 1, 0]), 2)


@pytest.mark.parametrize('stretch', [False, True])
def test_window_store_renders_any_channel_range_exactly(stretch):
    torch.manual_seed(0)
    store = WindowStore(30, 39, stretch=stretch)
    boxes = [(0, 20, 0, 20), (0, 20, 19, 39), (10, 30, 0, 20), (10, 30, 19, 39)]
    for i in range(0, 4, 3):
        chunk = boxes[i:i + 3]
        store.add(chunk, torch.randn(len(chunk), 6, 3, 3), 'cosine', (24, 24), (2, 2, 2, 2))
    full = store.render()
    assert full.shape == (1, 6, 30, 39) and not full.isnan().any()
    assert torch.equal(torch.cat([store.render(0, 2), store.render(2, 3), store.render(3, 6)],
                                 dim=1), full)
    with pytest.raises(ValueError, match='cannot be mixed'):
        store.add(boxes[:1], torch.randn(1, 6, 3, 3), 'prob', (24, 24), (2, 2, 2, 2))


def test_cosine_scores_kept_as_features_equal_the_head_scores():
    from dense_clip.models.clip import DenseOutput
    from dense_clip.seg.heads import CosineHead

    torch.manual_seed(0)
    dense = DenseOutput(dense=torch.randn(3, 48, 5, 7), cls=None, grid=(5, 7))
    text = torch.nn.functional.normalize(torch.randn(9, 48), dim=-1)
    head = CosineHead()
    full = head(dense, text, None).scores
    lazy = head.lazy_scores(dense, text, None)
    assert lazy.space == 'cosine' and lazy.shape == full.shape
    assert lazy.nbytes == 3 * 48 * 5 * 7 * 4  # features, not names
    for start, end in ((0, 9), (0, 1), (8, 9), (3, 4), (2, 6)):
        torch.testing.assert_close(lazy.channels(start, end), full[:, start:end], rtol=0,
                                   atol=1e-6)


def test_lazy_scores_are_used_only_without_window_steps(tmp_path, monkeypatch):
    from dense_clip.seg.heads.cosine import CosineScores

    stored = []
    add = segmentor_module.WindowStore.add
    monkeypatch.setattr(segmentor_module.WindowStore, 'add', lambda self, boxes, scores, *a:
                        stored.append(type(scores)) or add(self, boxes, scores, *a))
    for name, lazy in (('maskclip', True), ('maskclip_refined', False)):
        stored.clear()
        model = build_case(name, tmp_path)
        _predict(model, fixed_image(), 'top')
        assert stored and all((kind is CosineScores) == lazy for kind in stored), name
        stored.clear()
        _predict(model, fixed_image(), 'full')
        assert all(kind is torch.Tensor for kind in stored)


def test_full_mode_over_its_limit_is_refused_with_the_fix():
    model = tiny_segmentor()
    model.settings = dataclasses.replace(model.settings, max_probs_mb=0.01)
    image = torch.randn(1, 3, 64, 80)
    with pytest.raises(ValueError) as error:
        model.predict(image)
    message = str(error.value)
    for words in ('80x64', 'class names', 'max_probs_mb=0.01', "probs='top'", 'resize'):
        assert words in message


def test_auto_mode_switches_to_top_and_says_so(monkeypatch):
    import dense_clip.seg.inference as inference

    logged = []
    monkeypatch.setattr(inference, 'print_log', lambda message, **kw: logged.append(message))
    model = tiny_segmentor()
    model.settings = dataclasses.replace(model.settings, probs='auto', max_probs_mb=0.01)
    sample = model.predict(torch.randn(1, 3, 64, 80))[0]
    assert sample.seg_logits.data.shape == (1, 64, 80)
    assert len(logged) == 1 and '80x64 image, 4 class names' in logged[0]
    assert "(probs='top')" in logged[0]
    model.settings = dataclasses.replace(model.settings, max_probs_mb=100)
    assert model.predict(torch.randn(1, 3, 64, 80))[0].seg_logits.data.shape == (3, 64, 80)


def test_whole_mode_refuses_too_many_tokens_before_encoding(monkeypatch):
    model = tiny_segmentor(test_cfg=dict(mode='whole', max_tokens=50))
    calls = []
    monkeypatch.setattr(model.encoder, 'forward', lambda *a, **k: calls.append(1))
    with pytest.raises(ValueError) as error:
        model.predict(torch.randn(1, 3, 64, 80))  # patch 8: 8x10 = 80 tokens
    assert calls == []
    message = str(error.value)
    for words in ('80x64 image', '8x10 patch grid', '80 tokens', 'max_tokens=50', 'GiB',
                  "mode='slide'", 'Resize'):
        assert words in message, words


def test_token_count_follows_the_patch_remainder():
    assert check_whole_image_tokens(60, 70, (16, 16), 'drop', 100) == 3 * 4
    assert check_whole_image_tokens(60, 70, (16, 16), 'pad', 100) == 4 * 5
    with pytest.raises(ValueError, match='over the limit'):
        check_whole_image_tokens(4000, 3000, (16, 16), 'drop', 4096, heads=12)


@pytest.mark.parametrize('test_cfg, message', [(dict(probs='some'), 'probs must be one of'),
                                               (dict(max_tokens=0), 'max_tokens must be'),
                                               (dict(max_probs_mb=-1), 'max_probs_mb must be')])
def test_bad_memory_settings_are_errors(test_cfg, message):
    with pytest.raises(ValueError, match=message):
        tiny_segmentor(test_cfg=test_cfg)


def test_a_subclass_with_its_own_image_scores_is_served_in_both_modes():
    """Segmentors that compute an image's scores themselves (e.g. Trident) override
    image_scores; their scores are resized to the output as they are, in 'full' and 'top'."""
    from dense_clip.seg.segmentors import OpenVocabSegmentor, WindowScores

    class OwnScores(OpenVocabSegmentor):
        def image_scores(self, image, ctx):
            torch.manual_seed(1)
            scores = torch.randn(1, len(ctx.vocabulary.synonyms), 5, 6) * 0.1
            return WindowScores(scores, 'cosine', None)

    model = tiny_segmentor()
    own = OwnScores(clip=dict(model_cfg=model.source.model_cfg), text=dict(
        vocabulary=['cat', 'dog, puppy', 'sky'], templates='single', cache_dir=False)).eval()
    image = torch.randn(1, 3, 40, 48)
    full_probs, full_labels = _predict(own, image, 'full')
    top_probs, top_labels = _predict(own, image, 'top')
    assert full_probs.shape == (3, 40, 48) and top_probs.shape == (1, 40, 48)
    assert torch.equal(top_labels, full_labels)
    torch.testing.assert_close(top_probs, full_probs.max(dim=0, keepdim=True).values,
                               rtol=1e-5, atol=1e-6)
