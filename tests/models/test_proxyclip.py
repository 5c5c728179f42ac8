"""ProxyCLIP strategy against an independent computation on tiny models."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.clip import CLIPDenseEncoder, build_last_block
from dense_clip.models.clip.proxy_attention import ProxyCLIP, proxy_attention_weights
from dense_clip.models.proxy import build_proxy_model
from dense_clip.testing import tiny_clip_vit


def reference_weights(feats, beta, gamma):
    """Element by element: the global mean, strict < 0 masking, softmax."""
    b, c, h, w = feats.shape
    f = feats.reshape(b, c, h * w).double()
    f = f / f.norm(dim=1, keepdim=True)
    out = torch.zeros(b, h * w, h * w, dtype=torch.float64)
    for i in range(b):
        s = f[i].T @ f[i]
        s = gamma * (s - beta * s.sum() / s.numel())
        for r in range(h * w):
            keep = s[r] >= 0
            e = torch.where(keep, torch.exp(s[r] - s[r][keep].max()), torch.zeros_like(s[r]))
            out[i, r] = e / e.sum()
    return out


def test_weights_match_the_formula():
    torch.manual_seed(0)
    feats = torch.randn(2, 8, 3, 4)
    got = proxy_attention_weights(feats, 1.2, 3.0)
    torch.testing.assert_close(got.double(), reference_weights(feats, 1.2, 3.0))
    assert (got == 0).any()  # some entries were masked


def test_all_masked_row_keeps_its_diagonal():
    feats = torch.ones(1, 4, 2, 2)  # S = 1 everywhere: S' = 3 (1 - 1.2) < 0 for all entries
    weights = proxy_attention_weights(feats)
    torch.testing.assert_close(weights[0], torch.eye(4))


def test_encoder_output_matches_manual_proxy_attention():
    torch.manual_seed(0)
    model = tiny_clip_vit(patch_size=16, image_size=64, width=32, layers=2, heads=2)
    proxy = build_proxy_model(dict(type='dino_vitb8', tiny=True))
    encoder = CLIPDenseEncoder(model, last_block=ProxyCLIP(proxy, beta=1.2, gamma=3.0))
    images = torch.randn(1, 3, 48, 64)
    out = encoder(images)
    assert out.grid == (6, 8) and out.dense.shape == (1, 32, 6, 8)

    # Independent path: open_clip's own modules, the proxy, and the formula.
    visual = model.visual
    x = visual.conv1(images).flatten(2).transpose(1, 2)  # (1, 12, 32) on a 3x4 grid
    x = torch.cat([visual.class_embedding.view(1, 1, -1), x], dim=1)
    pos = visual.positional_embedding
    grid_pos = F.interpolate(pos[1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2), size=(3, 4),
                             mode='bicubic', align_corners=False)
    x = x + torch.cat([pos[:1], grid_pos.flatten(2)[0].T], dim=0)
    x = visual.ln_pre(x)
    x = visual.transformer.resblocks[0](x)
    last = visual.transformer.resblocks[-1]
    width = 32
    v = F.linear(last.ln_1(x), last.attn.in_proj_weight, last.attn.in_proj_bias)[..., 2 * width:]
    v = v[:, 1:].reshape(1, 3, 4, width).permute(0, 3, 1, 2)  # heads are channel blocks
    v = F.interpolate(v, size=(6, 8), mode='bilinear', align_corners=False)
    v = v.flatten(2).transpose(1, 2)  # (1, 48, 32)
    feats = proxy(images)
    weights = reference_weights(feats, 1.2, 3.0).float()
    mixed = weights @ v  # same weights for every head == per-channel mixing
    tokens = last.attn.out_proj(mixed)
    dense = visual.ln_post(tokens) @ visual.proj
    expected = dense.transpose(1, 2).reshape(1, -1, 6, 8)
    torch.testing.assert_close(out.dense, expected, atol=1e-5, rtol=1e-4)
    assert math.isfinite(out.cls.sum().item())


def test_registered_and_built_from_config():
    strategy = build_last_block(dict(type='proxyclip', proxy=dict(type='dinov2_vitb14', tiny=True),
                                     beta=1.0, gamma=2.0))
    assert isinstance(strategy, ProxyCLIP) and strategy.beta == 1.0 and strategy.gamma == 2.0
    assert not strategy.keep_residual and not strategy.keep_ffn


def test_proxy_follows_the_encoder_and_needs_context():
    model = tiny_clip_vit()
    encoder = CLIPDenseEncoder(model, last_block=dict(type='proxyclip',
                                                      proxy=dict(type='dino_vitb16', tiny=True)))
    assert any(k.startswith('strategy_modules.proxy.') for k in encoder.state_dict())
    with pytest.raises(ValueError, match='prepare'):
        encoder.last_block(model.visual.transformer.resblocks[-1], torch.randn(1, 17, 32), (4, 4))


def test_batch_mean_subtracts_the_mean_over_all_images():
    # Trident's custom_attn: torch.mean(similarity) over the whole batch of windows.
    torch.manual_seed(0)
    feats = torch.randn(3, 4, 2, 3)
    f = torch.nn.functional.normalize(feats.flatten(2), dim=1)
    sim = f.transpose(1, 2) @ f
    expected = ((sim - 1.2 * sim.mean()) * 3.0)
    expected = expected.masked_fill(expected < 0, float('-inf')).softmax(dim=-1)
    torch.testing.assert_close(proxy_attention_weights(feats, 1.2, 3.0, batch_mean=True),
                               expected)
    per_image = proxy_attention_weights(feats, 1.2, 3.0)
    assert not torch.allclose(per_image, expected)
