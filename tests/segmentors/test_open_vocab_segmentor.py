"""OpenVocabSegmentor: window grid, slide vs whole, batched windows, thresholds, vocabularies."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dense_clip.seg.inference import finalise_prediction, slide_logits, window_grid
from dense_clip.seg.segmentors import OpenVocabSegmentor
from tests.test_configs import TINY_VIT


def build(tmp_path, **kwargs) -> OpenVocabSegmentor:
    torch.manual_seed(0)
    args = dict(clip=dict(model_cfg=TINY_VIT), vocabulary=['cat', 'dog, puppy', 'sky'],
                last_block='maskclip', templates='single', crop_size=32, stride=16,
                text_cache_dir=str(tmp_path / 'cache'))
    args.update(kwargs)
    return OpenVocabSegmentor(**args).eval()


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


def test_whole_equals_slide_when_one_window_covers_image(tmp_path):
    image = torch.randn(1, 3, 32, 32)
    whole, slide = build(tmp_path, mode='whole'), build(tmp_path, mode='slide')
    text = whole.text_embeddings(whole.vocabulary)
    torch.testing.assert_close(whole.image_logits(image, text), slide.image_logits(image, text))


def test_batched_windows_equal_one_at_a_time(tmp_path):
    image = torch.randn(1, 3, 48, 72)
    one, many = build(tmp_path, windows_per_batch=1), build(tmp_path, windows_per_batch=5)
    text = one.text_embeddings(one.vocabulary)
    torch.testing.assert_close(one.image_logits(image, text), many.image_logits(image, text),
                               rtol=1e-5, atol=1e-5)


def test_slide_logits_average_matches_manual_average():
    image = torch.arange(2 * 40 * 40, dtype=torch.float32).reshape(1, 2, 40, 40)
    out = slide_logits(image, lambda w: w * 2, 2, crop=(32, 32), stride=(8, 8))
    torch.testing.assert_close(out, image * 2)  # every window sees the same pixel values


def test_window_logits_match_independent_cosine(tmp_path):
    model = build(tmp_path, mode='whole')
    image = torch.randn(1, 3, 32, 32)
    text = model.text_embeddings(model.vocabulary)
    dense = model.encoder(image).dense  # (1, D, 4, 4)
    cos = torch.einsum('dhw,sd->shw', F.normalize(dense[0], dim=0), F.normalize(text, dim=1))
    expected = F.interpolate(cos[None], size=(32, 32), mode='bilinear', align_corners=False)
    torch.testing.assert_close(model.window_logits(image, text), expected, rtol=1e-5, atol=1e-5)


def test_pad_mode_crops_logits_back_to_window(tmp_path):
    model = build(tmp_path, mode='whole', patch_remainder='pad')
    text = model.text_embeddings(model.vocabulary)
    assert model.window_logits(torch.randn(1, 3, 30, 37), text).shape == (1, 4, 30, 37)


def test_finalise_prediction_synonym_max_and_thresholds():
    logits = torch.tensor([[[0.30]], [[0.10]], [[0.25]], [[0.0]]])  # names of 3 classes
    index = torch.tensor([0, 1, 1, 2])
    probs, labels = finalise_prediction(logits, index, 3, logit_scale=10.0)
    per_name = (logits[:, 0, 0] * 10).softmax(0)
    expected = torch.stack([per_name[0], per_name[1:3].max(), per_name[3]])
    torch.testing.assert_close(probs[:, 0, 0], expected)
    assert labels.item() == 0
    _, labels = finalise_prediction(logits[1:], torch.tensor([1, 1, 2]), 3, 10.0,
                                    prob_thresh=0.99)
    assert labels.item() == 0  # too unsure: background


def test_area_threshold_drops_small_classes():
    logits = torch.zeros(3, 10, 10)
    logits[1] = 1.0
    logits[2, 0, 0] = 5.0  # class 2 wins one pixel out of 100
    _, labels = finalise_prediction(logits, torch.arange(3), 3, 10.0, area_thresh=0.05)
    assert (labels == 1).all()
    _, labels = finalise_prediction(logits, torch.arange(3), 3, 10.0, area_thresh=None)
    assert labels[0, 0, 0] == 2


def test_predict_accepts_per_image_vocabulary(tmp_path):
    from mmseg.structures import SegDataSample

    model = build(tmp_path, mode='whole')
    samples = [SegDataSample(metainfo=dict(ori_shape=(20, 24), img_shape=(32, 32),
                                           vocabulary=['road', 'tree'])),
               SegDataSample(metainfo=dict(ori_shape=(32, 32), img_shape=(32, 32)))]
    out = model.predict(torch.randn(2, 3, 32, 32), samples)
    assert out[0].seg_logits.data.shape == (2, 20, 24)
    assert out[0].pred_sem_seg.data.shape == (1, 20, 24)
    assert out[1].seg_logits.data.shape == (3, 32, 32)


def test_text_embeddings_cached_on_disk_and_reused(tmp_path):
    model = build(tmp_path)
    first = model.text_embeddings(model.vocabulary)
    assert list((tmp_path / 'cache').glob('*.safetensors'))
    fresh = build(tmp_path)
    calls = []
    original = fresh.clip_model.encode_text
    fresh.clip_model.encode_text = lambda *a, **k: calls.append(1) or original(*a, **k)
    torch.testing.assert_close(fresh.text_embeddings(fresh.vocabulary), first, rtol=0, atol=0)
    assert not calls


@pytest.mark.parametrize('vocabulary, message', [([], 'empty'), (['cat', 'Cat'], 'duplicate'),
                                                  ('no_such_list', 'neither')])
def test_bad_vocabulary_is_an_error(tmp_path, vocabulary, message):
    with pytest.raises(ValueError, match=message):
        build(tmp_path, vocabulary=vocabulary)


def test_prompt_denoising_matches_definition():
    from dense_clip.seg.maskclip_refine import prompt_denoising

    logits = torch.randn(2, 5, 3, 4) * 0.05
    out = prompt_denoising(logits, 0.5)
    for n in range(2):
        for s in range(5):
            peak = max((logits[n, :, i, j] * 100).softmax(0)[s].item()
                       for i in range(3) for j in range(4))
            expected = torch.full((3, 4), -100.0) if peak < 0.5 else logits[n, s]
            torch.testing.assert_close(out[n, s], expected)


def test_key_smoothing_matches_definition():
    from dense_clip.seg.maskclip_refine import key_smoothing

    logits, keys = torch.randn(1, 3, 2, 2) * 0.02, torch.randn(1, 4, 6)
    probs = (logits[0] * 100).softmax(0).reshape(3, 4)  # (S, patches)
    out = key_smoothing(logits, keys, vote_thresh=1.0)[0].reshape(3, 4)
    for p in range(4):
        affinity = [F.cosine_similarity(keys[0, p], keys[0, q], dim=0) for q in range(4)]
        expected = sum(a * probs[:, q] for q, a in enumerate(affinity))
        torch.testing.assert_close(out[:, p], expected, rtol=1e-5, atol=1e-6)
    unchanged = key_smoothing(logits, keys, vote_thresh=0.0)[0].reshape(3, 4)
    torch.testing.assert_close(unchanged, probs)


def test_segmentor_key_smoothing_uses_last_block_keys(tmp_path):
    from dense_clip.models.clip.ops import merge_heads, project_qkv
    from dense_clip.seg.maskclip_refine import key_smoothing

    plain = build(tmp_path, mode='whole')
    smooth = build(tmp_path, mode='whole', key_smoothing=1.0, prompt_denoise=0.2,
                   logit_scale=100.0)
    image = torch.randn(1, 3, 32, 32)
    text = plain.text_embeddings(plain.vocabulary)
    resblocks = plain.clip_model.visual.transformer.resblocks
    x = plain.encoder(image, return_blocks=(-2,)).blocks[-2]
    keys = merge_heads(project_qkv(resblocks[-1], x)[1])[:, 1:]
    dense = F.normalize(plain.encoder(image).dense, dim=1)
    cos = torch.einsum('ndhw,sd->nshw', dense, text)
    peak = (cos * 100).softmax(1).flatten(2).amax(2)
    cos = cos.masked_fill((peak < 0.2)[:, :, None, None], -100.0)
    expected = key_smoothing(cos, keys, 1.0).clamp_min(1e-12).log() / 100.0
    expected = F.interpolate(expected, size=(32, 32), mode='bilinear', align_corners=False)
    torch.testing.assert_close(smooth.window_logits(image, text), expected, rtol=1e-4,
                               atol=1e-5)


def test_dbscan_follows_its_definition():
    from dense_clip.seg.cliptrase_vote import dbscan

    points = torch.tensor([[0.0], [0.5], [1.0], [5.0], [5.4], [5.8], [20.0], [1.4]])
    labels = dbscan(points, eps=0.6, min_samples=3)
    # 0..2 and 7 chain through core points; 3..5 form a second cluster; 6 is noise.
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, -1, 0]
    assert dbscan(points, eps=0.1, min_samples=2).tolist() == [-1] * 8


def test_cluster_vote_takes_majority_label_per_cluster():
    from dense_clip.seg.cliptrase_vote import cluster_vote

    h = w = 4  # left half and right half of the patches correlate among themselves
    side = torch.tensor([c < 2 for _ in range(h) for c in range(w)])
    correlation = (side[:, None] == side[None, :]).float()
    labels = torch.zeros(16, 16, dtype=torch.long)
    labels[:, 8:] = 2
    labels[0:3, 0:3] = 1  # a minority label inside the left cluster
    voted = cluster_vote(labels, correlation, (h, w), eps=0.5, min_samples=2)
    assert (voted[:, :8] == 0).all() and (voted[:, 8:] == 2).all()


def test_segmentor_cluster_vote_needs_whole_mode_and_cliptrase(tmp_path):
    with pytest.raises(ValueError, match='cluster_vote'):
        build(tmp_path, last_block='cliptrase', mode='slide', cluster_vote=dict(eps=0.7))
    with pytest.raises(ValueError, match='cluster_vote'):
        build(tmp_path, last_block='maskclip', mode='whole', cluster_vote=dict(eps=0.7))
    model = build(tmp_path, last_block='cliptrase', mode='whole',
                  cluster_vote=dict(eps=0.7, min_samples=3))
    out = model.predict(torch.randn(1, 3, 32, 32))
    assert out[0].pred_sem_seg.data.shape == (1, 32, 32)


def test_cls_reweight_multiplies_by_image_level_cosine(tmp_path):
    plain = build(tmp_path, mode='whole', last_block='cliptrase')
    weighted = build(tmp_path, mode='whole', last_block='cliptrase', cls_reweight=True)
    image = torch.randn(1, 3, 32, 32)
    text = plain.text_embeddings(plain.vocabulary)
    out = plain.encoder(image)
    image_cos = F.normalize(out.cls, dim=-1) @ text.t()
    expected = plain.window_logits(image, text) * image_cos[:, :, None, None]
    torch.testing.assert_close(weighted.window_logits(image, text), expected, rtol=1e-5,
                               atol=1e-6)


def test_key_smoothing_needs_a_vit_tower(tmp_path):
    from dense_clip.testing import tiny_resnet_config

    with pytest.raises(ValueError, match='key_smoothing.*resnet'):
        build(tmp_path, clip=dict(model_cfg=tiny_resnet_config()), mode='whole',
              key_smoothing=1.0)
