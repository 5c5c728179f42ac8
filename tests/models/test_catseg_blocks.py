"""CAT-Seg's building blocks: shapes, class-permutation equivariance, the top-k path, windows."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.catseg import (
    ClassAggregation,
    GuidedSwinBlock,
    SpatialAggregation,
    UpsampleDecoder,
    build_aggregator,
    cost_volume,
    full_attention,
    linear_attention,
    select_top_classes,
)
from dense_clip.models.catseg.spatial import shifted_window_mask

TINY = dict(hidden_dim=32, num_layers=2, num_heads=4, window_size=4, pooling_size=(2, 2),
            pad_len=8, text_proj_dim=16, appearance_proj_dim=16, decoder_dims=(16, 16),
            decoder_guidance_dims=(12, 8), decoder_guidance_proj_dims=(4, 4))


def randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Perturbs every parameter (zero-initialised padding tokens included)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return module.eval()


def inputs(b: int = 2, k: int = 5, p: int = 2, d: int = 24, grid: int = 8, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(b, d, grid, grid, generator=g)
    text = F.normalize(torch.randn(b, k, p, d, generator=g), dim=-1)
    guidance = [torch.randn(b, 12, 2 * grid, 2 * grid, generator=g),
                torch.randn(b, 8, 4 * grid, 4 * grid, generator=g)]
    return image, text, guidance


def test_cost_volume_is_cosine_per_template():
    image, text, _ = inputs()
    cost = cost_volume(image, text)
    assert cost.shape == (2, 2, 5, 8, 8)
    manual = (F.normalize(image[1, :, 3, 4], dim=0) * F.normalize(text[1, 2, 1], dim=0)).sum()
    torch.testing.assert_close(cost[1, 1, 2, 3, 4], manual)
    assert cost.abs().max() <= 1 + 1e-6


def test_shifted_window_mask_separates_rolled_regions():
    mask = shifted_window_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    assert torch.count_nonzero(mask[0]) == 0  # the top-left window holds one region
    # The bottom-right window holds 4 regions of 2x2 pixels: each pixel sees 4 of the 16.
    assert ((mask[3] == 0).sum(dim=1) == 4).all()


def test_swin_block_window_rule_and_tiling_error():
    block = GuidedSwinBlock(16, 4, 4, window_size=12, shift=6)
    assert block.layout(24, 24) == (12, 6)
    assert block.layout(8, 8) == (8, 0)  # grid <= window: one window, no shift (authors' rule)
    with pytest.raises(ValueError, match='does not tile'):
        block.layout(30, 30)


def test_spatial_aggregation_shapes_with_and_without_guidance():
    spatial = randomised(SpatialAggregation(16, 8, num_heads=4, window_size=4))
    x = torch.randn(2, 16, 3, 8, 8)
    assert spatial(x, torch.randn(2, 8, 8, 8)).shape == x.shape
    unguided = randomised(SpatialAggregation(16, 0, num_heads=4, window_size=4))
    assert unguided(x, None).shape == x.shape


def test_linear_attention_matches_its_definition():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 7, 2, 4, generator=g) for _ in range(3))
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    scores = torch.einsum('nlhd,nshd->nlsh', fq, fk)
    expected = torch.einsum('nlsh,nshd->nlhd', scores / (scores.sum(dim=2, keepdim=True) + 1e-6), v)
    torch.testing.assert_close(linear_attention(q, k, v), expected, atol=1e-5, rtol=1e-5)
    weights = torch.softmax(torch.einsum('nlhd,nshd->nlsh', q, k) / 2.0, dim=2)
    torch.testing.assert_close(full_attention(q, k, v),
                               torch.einsum('nlsh,nshd->nlhd', weights, v))


@pytest.mark.parametrize('attention', ['linear', 'full'])
@pytest.mark.parametrize('pad_len', [0, 8])
def test_class_aggregation_is_class_permutation_equivariant(attention, pad_len):
    layer = randomised(ClassAggregation(16, 8, 4, (2, 2), pad_len, attention))
    x, guidance = torch.randn(2, 16, 5, 8, 8), torch.randn(2, 5, 8)
    perm = torch.tensor([3, 0, 4, 1, 2])
    out = layer(x, guidance)
    assert out.shape == x.shape
    torch.testing.assert_close(layer(x[:, :, perm], guidance[:, perm]), out[:, :, perm],
                               atol=1e-5, rtol=1e-5)


def test_class_aggregation_pads_to_pad_len():
    layer = randomised(ClassAggregation(16, 8, 4, (1, 1), pad_len=8))
    x, guidance = torch.randn(1, 16, 3, 4, 4), torch.randn(1, 3, 8)
    baseline = layer(x, guidance)
    with torch.no_grad():
        layer.padding_tokens.add_(1.0)  # the padding tokens take part in the attention
    assert not torch.allclose(layer(x, guidance), baseline)
    with pytest.raises(ValueError, match='valid'):
        ClassAggregation(16, 8, 4, attention='softmax')


def test_decoder_shapes_and_group_norm_limit():
    decoder = randomised(UpsampleDecoder(32, (16, 16), (12, 8), (4, 4)))
    out = decoder(torch.randn(2, 32, 3, 8, 8), [torch.randn(2, 12, 16, 16),
                                                 torch.randn(2, 8, 32, 32)])
    assert out.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match='>= 16'):
        UpsampleDecoder(32, (8, 8), (12, 8), (4, 4))


def test_aggregator_shapes_and_class_permutation_equivariance():
    agg = randomised(build_aggregator(num_templates=2, embed_dim=24, **TINY))
    image, text, guidance = inputs()
    logits = agg(image, text, guidance)
    assert logits.shape == (2, 5, 32, 32)
    perm = torch.tensor([4, 2, 0, 1, 3])
    torch.testing.assert_close(agg(image, text[:, perm], guidance), logits[:, perm],
                               atol=1e-5, rtol=1e-5)
    # A (K, P, D) vocabulary is shared by the batch.
    torch.testing.assert_close(agg(image, text[0], guidance)[0], logits[0], atol=1e-5, rtol=1e-5)


def test_aggregator_top_k_keeps_the_highest_cost_classes():
    agg = randomised(build_aggregator(num_templates=2, embed_dim=24, **{**TINY, 'pad_len': 4}))
    image, text, guidance = inputs(k=7)
    kept = select_top_classes(cost_volume(image, text), 4)
    assert kept.shape == (2, 4) and (kept.diff(dim=1) > 0).all()
    logits = agg(image, text, guidance)
    assert logits.shape == (2, 7, 32, 32)
    for b in range(2):
        dropped = sorted(set(range(7)) - set(kept[b].tolist()))
        assert (logits[b, dropped] == -100).all()
        # The kept classes get what the aggregator gives when only they are asked for.
        alone = agg(image[b:b + 1], text[b:b + 1, kept[b]], [g[b:b + 1] for g in guidance])
        torch.testing.assert_close(logits[b:b + 1, kept[b]], alone, atol=1e-5, rtol=1e-5)
    peak = cost_volume(image, text).transpose(1, 2).flatten(2).amax(-1)
    assert set(kept[0].tolist()) == set(peak[0].topk(4).indices.tolist())


def test_aggregator_rejects_wrong_template_count():
    agg = build_aggregator(num_templates=1, embed_dim=24, **TINY)
    image, text, guidance = inputs(p=2)
    with pytest.raises(ValueError, match='1 templates'):
        agg(image, text, guidance)
