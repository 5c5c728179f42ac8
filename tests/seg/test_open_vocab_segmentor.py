"""OpenVocabSegmentor: composition from config parts, slide vs whole, batched windows, score
spaces, vocabularies, settings validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.text import Vocabulary
from dense_clip.seg.steps import Prediction, SegStep, StepContext
from dense_clip.testing import tiny_segmentor as build


def test_whole_equals_slide_when_one_window_covers_image():
    image = torch.randn(1, 3, 32, 32)
    whole, slide = build(test_cfg=dict(mode='whole')), build(test_cfg=dict(mode='slide'))
    ctx_w, ctx_s = whole._context(whole.vocabulary), slide._context(slide.vocabulary)
    torch.testing.assert_close(whole.image_scores(image, ctx_w).scores,
                               slide.image_scores(image, ctx_s).scores)


def test_batched_windows_equal_one_at_a_time():
    image = torch.randn(1, 3, 48, 72)
    one = build(test_cfg=dict(windows_per_batch=1))
    many = build(test_cfg=dict(windows_per_batch=5))
    torch.testing.assert_close(one.image_scores(image, one._context(one.vocabulary)).scores,
                               many.image_scores(image, many._context(many.vocabulary)).scores,
                               rtol=1e-5, atol=1e-5)


def test_window_scores_match_independent_cosine_and_patch_grid_is_public():
    model = build(test_cfg=dict(mode='whole'))
    image = torch.randn(1, 3, 32, 32)
    text = model.text_embeddings(model.vocabulary)
    dense = model.encoder(image).dense  # (1, D, 4, 4)
    cos = torch.einsum('dhw,sd->shw', F.normalize(dense[0], dim=0), F.normalize(text, dim=1))
    patch = model.window_scores(image, upsample=False)
    assert patch.space == 'cosine' and patch.scores.shape == (1, 4, 4, 4)
    torch.testing.assert_close(patch.scores[0], cos, rtol=1e-5, atol=1e-5)
    expected = F.interpolate(cos[None], size=(32, 32), mode='bilinear', align_corners=False)
    torch.testing.assert_close(model.window_scores(image).scores, expected, rtol=1e-5,
                               atol=1e-5)


def test_pad_mode_crops_scores_back_to_window():
    model = build(test_cfg=dict(mode='whole', patch_remainder='pad'))
    assert model.window_scores(torch.randn(1, 3, 30, 37)).scores.shape == (1, 4, 30, 37)


def test_predict_accepts_per_image_vocabulary():
    from mmseg.structures import SegDataSample

    model = build(test_cfg=dict(mode='whole'))
    samples = [SegDataSample(metainfo=dict(ori_shape=(20, 24), img_shape=(32, 32),
                                           vocabulary=['road', 'tree'])),
               SegDataSample(metainfo=dict(ori_shape=(32, 32), img_shape=(32, 32)))]
    out = model.predict(torch.randn(2, 3, 32, 32), samples)
    assert out[0].seg_logits.data.shape == (2, 20, 24)
    assert out[0].pred_sem_seg.data.shape == (1, 20, 24)
    assert out[1].seg_logits.data.shape == (3, 32, 32)


def test_no_vocabulary_anywhere_is_a_clear_error():
    model = build(text=dict(vocabulary=None))
    with pytest.raises(ValueError, match='no vocabulary'):
        model.predict(torch.randn(1, 3, 32, 32))


def test_text_embeddings_cached_on_disk_and_reused(tmp_path):
    model = build(text=dict(cache_dir=str(tmp_path / 'cache')))
    first = model.text_embeddings(model.vocabulary)
    assert list((tmp_path / 'cache').glob('*.safetensors'))
    fresh = build(text=dict(cache_dir=str(tmp_path / 'cache')))
    calls = []
    original = fresh.clip_model.encode_text
    fresh.clip_model.encode_text = lambda *a, **k: calls.append(1) or original(*a, **k)
    torch.testing.assert_close(fresh.text_embeddings(fresh.vocabulary), first, rtol=0, atol=0)
    assert not calls


@pytest.mark.parametrize('vocabulary, message', [([], 'empty'), (['cat', 'Cat'], 'duplicate'),
                                                  ('no_such_list', 'neither')])
def test_bad_vocabulary_is_an_error(vocabulary, message):
    with pytest.raises(ValueError, match=message):
        build(text=dict(vocabulary=vocabulary))


@pytest.mark.parametrize('group, key', [('encoder', 'lastblock'), ('text', 'template'),
                                        ('test_cfg', 'crop')])
def test_misspelled_settings_are_errors_that_list_the_valid_ones(group, key):
    with pytest.raises(ValueError, match=rf"unknown {group} setting.*'{key}'.*valid"):
        build(**{group: {key: 1}})


@pytest.mark.parametrize('test_cfg, message', [(dict(mode='tiles'), 'mode'),
                                               (dict(patch_remainder='crop'), 'patch_remainder')])
def test_bad_test_cfg_values_are_errors(test_cfg, message):
    with pytest.raises(ValueError, match=message):
        build(test_cfg=test_cfg)


def test_unknown_head_and_step_names_list_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown segmentation head 'nohead'.*CosineHead"):
        build(head=dict(type='nohead'))
    with pytest.raises(ValueError, match=r"unknown segmentation step 'nostep'.*PAMR"):
        build(steps=[dict(type='nostep')])


class _Doubler(SegStep):
    """A test-only step: doubles window scores and records what it saw."""

    stage = 'window'

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple] = []

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        self.seen.append((tuple(pred.scores.shape), ctx.dense.grid))
        pred.scores = pred.scores * 2
        return pred


def test_a_new_step_is_one_class_and_one_list_entry():
    step = _Doubler()
    model = build(steps=[step], test_cfg=dict(mode='whole'))
    plain = build(test_cfg=dict(mode='whole'))
    image = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model.window_scores(image).scores,
                               2 * plain.window_scores(image).scores)
    assert step.seen == [((1, 4, 4, 4), (4, 4))]


def test_labels_steps_see_the_whole_image_pass_only_in_whole_mode():
    seen = []

    class Spy(SegStep):
        stage = 'labels'

        def forward(self, pred, ctx):
            seen.append(ctx.dense)
            return pred

    build(steps=[Spy()], test_cfg=dict(mode='whole')).predict(torch.randn(1, 3, 32, 32))
    build(steps=[Spy()]).predict(torch.randn(1, 3, 32, 32))
    assert seen[0] is not None and seen[0].grid == (4, 4) and seen[1] is None


def test_vocabulary_argument_accepts_every_form():
    model = build()
    assert model.vocabulary == Vocabulary(['cat', 'dog, puppy', 'sky'])
    named = model.vocabulary_of({'vocabulary': dict(classnames=['a'], background='sky')})
    assert named.class_names == ('background', 'a')
    assert model.vocabulary_of({'vocabulary': 'voc20'}).num_classes == 20


def test_training_free_heads_refuse_to_train():
    model = build()
    with pytest.raises(NotImplementedError, match='training-free'):
        model.loss(torch.randn(1, 3, 32, 32), [])
