"""MaskCLIP's prompt denoising and key smoothing, alone and inside the segmentor."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.clip.ops import merge_heads, project_qkv
from dense_clip.seg.steps import KeySmoothing, key_smoothing, prompt_denoising
from dense_clip.testing import tiny_resnet_config, tiny_segmentor


def test_prompt_denoising_matches_definition():
    logits = torch.randn(2, 5, 3, 4) * 0.05
    out = prompt_denoising(logits, 0.5)
    for n in range(2):
        for s in range(5):
            peak = max((logits[n, :, i, j] * 100).softmax(0)[s].item()
                       for i in range(3) for j in range(4))
            expected = torch.full((3, 4), -100.0) if peak < 0.5 else logits[n, s]
            torch.testing.assert_close(out[n, s], expected)


def test_key_smoothing_matches_definition():
    logits, keys = torch.randn(1, 3, 2, 2) * 0.02, torch.randn(1, 4, 6)
    probs = (logits[0] * 100).softmax(0).reshape(3, 4)  # (S, patches)
    out = key_smoothing(logits, keys, vote_thresh=1.0)[0].reshape(3, 4)
    for p in range(4):
        affinity = [F.cosine_similarity(keys[0, p], keys[0, q], dim=0) for q in range(4)]
        expected = sum(a * probs[:, q] for q, a in enumerate(affinity))
        torch.testing.assert_close(out[:, p], expected, rtol=1e-5, atol=1e-6)
    unchanged = key_smoothing(logits, keys, vote_thresh=0.0)[0].reshape(3, 4)
    torch.testing.assert_close(unchanged, probs)


def test_segmentor_steps_use_the_last_block_keys_of_the_same_pass():
    plain = tiny_segmentor(test_cfg=dict(mode='whole'))
    smooth = tiny_segmentor(
        test_cfg=dict(mode='whole'), logit_scale=100.0,
        steps=[dict(type='PromptDenoise', threshold=0.2), dict(type='KeySmoothing')])
    image = torch.randn(1, 3, 32, 32)
    text = plain.text_embeddings(plain.vocabulary)
    resblocks = plain.clip_model.visual.transformer.resblocks
    x = plain.encoder(image, return_blocks=(-2,)).blocks[-2]
    keys = merge_heads(project_qkv(resblocks[-1], x)[1])[:, 1:]
    cos = torch.einsum('ndhw,sd->nshw', F.normalize(plain.encoder(image).dense, dim=1), text)
    peak = (cos * 100).softmax(1).flatten(2).amax(2)
    cos = cos.masked_fill((peak < 0.2)[:, :, None, None], -100.0)
    expected = key_smoothing(cos, keys, 1.0).clamp_min(1e-12).log()
    out = smooth.window_scores(image, upsample=False)
    assert out.space == 'logit'
    torch.testing.assert_close(out.scores, expected, rtol=1e-4, atol=1e-5)
    probs = smooth.predict(image)[0].seg_logits.data
    smoothed = key_smoothing(cos, keys, 1.0)
    smoothed = F.interpolate(smoothed.clamp_min(1e-12).log(), size=(32, 32), mode='bilinear',
                             align_corners=False).softmax(1)[0]
    per_class = torch.stack([smoothed[0], smoothed[1:3].max(0).values, smoothed[3]])
    torch.testing.assert_close(probs, per_class, rtol=1e-4, atol=1e-5)


def test_key_smoothing_needs_a_vit_tower_and_cosine_scores():
    with pytest.raises(ValueError, match='KeySmoothing.*ViT.*resnet'):
        tiny_segmentor(clip=dict(model_cfg=tiny_resnet_config()), steps=[dict(type='KeySmoothing')])
    model = tiny_segmentor(steps=[dict(type='KeySmoothing'), dict(type='PromptDenoise')],
                           test_cfg=dict(mode='whole'))
    with pytest.raises(ValueError, match='PromptDenoise needs cosine scores'):
        model.window_scores(torch.randn(1, 3, 32, 32))
    assert KeySmoothing.request.last_qkv
