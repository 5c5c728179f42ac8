"""The bfloat16 fast path of the image and text towers (fused attention, packed oneDNN weights)
compared with open_clip's own blocks on tiny models; float32 keeps open_clip's blocks."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock
from torch import nn

from dense_clip.models.clip import CLIPDenseEncoder, DenseRequest
from dense_clip.models.clip import ops as clip_ops
from dense_clip.models.clip.ops import fused_attention_ok, run_block, run_mlp, use_fast_block
from dense_clip.models.clip.packed_linear import _PACKED, linear, packed_linear_available
from dense_clip.testing import tiny_clip_vit


def _block(act=nn.GELU, ls=None, seed=0) -> ResidualAttentionBlock:
    torch.manual_seed(seed)
    block = ResidualAttentionBlock(32, 4, act_layer=act, ls_init_value=ls)
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return block.eval()


@pytest.mark.parametrize('act', [nn.GELU, 'quick_gelu'])
@pytest.mark.parametrize('ls', [None, 0.3])
def test_run_block_matches_the_block_in_float32(act, ls):
    from open_clip.transformer import QuickGELU

    block = _block(QuickGELU if act == 'quick_gelu' else act, ls)
    x = torch.randn(3, 17, 32)
    with torch.no_grad():
        out, ffn_input = run_block(block, x, keep_ffn_input=True)
        torch.testing.assert_close(out, block(x), rtol=0, atol=1e-5)
        mid = x + block.ls_1(block.attention(q_x=block.ln_1(x)))
        torch.testing.assert_close(ffn_input, block.ln_2(mid), rtol=0, atol=1e-5)
        mask = torch.full((17, 17), float('-inf')).triu(1)
        torch.testing.assert_close(run_block(block, x, causal=True)[0],
                                   block(x, attn_mask=mask), rtol=0, atol=1e-5)


def test_run_block_has_gradients_like_the_block():
    block = _block()
    x = torch.randn(2, 9, 32, requires_grad=True)
    run_block(block, x)[0].square().sum().backward()
    fast = x.grad.clone()
    x.grad = None
    block(x).square().sum().backward()
    torch.testing.assert_close(fast, x.grad, rtol=0, atol=1e-5)


def test_bfloat16_block_close_to_float32():
    block = _block()
    x = torch.randn(2, 33, 32)
    with torch.no_grad():
        reference = block(x)
        fast = run_block(copy.deepcopy(block).to(torch.bfloat16), x.to(torch.bfloat16))[0]
    assert fast.dtype == torch.bfloat16
    assert (fast.float() - reference).abs().max().item() < 0.05 * reference.abs().max().item()


def test_which_blocks_take_the_fast_path():
    block = _block()
    x32, x16 = torch.randn(1, 5, 32), torch.randn(1, 5, 32, dtype=torch.bfloat16)
    assert fused_attention_ok(block)
    assert not use_fast_block(block, x32) and use_fast_block(block, x16)
    handle = block.register_forward_hook(lambda *args: None)
    assert not fused_attention_ok(block)  # a hooked block runs its own forward (hooks fire)
    handle.remove()
    cross = ResidualAttentionBlock(32, 4, is_cross_attention=True)
    assert not fused_attention_ok(cross)
    with pytest.raises(ValueError, match='run its own forward'):
        run_block(cross, x32)


def test_packed_linear_matches_f_linear():
    torch.manual_seed(0)
    weight, bias = torch.randn(48, 32) * 0.1, torch.randn(48) * 0.1
    x = torch.randn(2, 7, 32)
    assert torch.equal(linear(x, weight, bias), F.linear(x, weight, bias))  # float32: F.linear
    assert torch.equal(linear(x, weight, bias, 'gelu'), F.gelu(F.linear(x, weight, bias)))
    w16, b16, x16 = weight.bfloat16(), bias.bfloat16(), x.bfloat16()
    with torch.no_grad():
        for activation, fn in ((None, lambda t: t), ('gelu', F.gelu)):
            got = linear(x16, w16, b16, activation)
            expected = fn(F.linear(x16.float(), w16.float(), b16.float()))
            assert got.dtype == torch.bfloat16 and got.shape == (2, 7, 48)
            assert (got.float() - expected).abs().max().item() < 0.02
        if packed_linear_available():
            assert (id(w16), 1.0) in _PACKED  # packed once, reused
            w16.mul_(2)  # an in-place change re-packs
            torch.testing.assert_close(linear(x16, w16, b16).float(),
                                       F.linear(x16.float(), w16.float(), b16.float()),
                                       rtol=0.02, atol=0.02)
    with pytest.raises(ValueError, match='activation must be one of'):
        linear(x, weight, bias, 'relu')


def test_quick_gelu_mlp_fused_as_a_scaled_swish():
    from open_clip.transformer import QuickGELU

    torch.manual_seed(0)
    mlp = nn.Sequential()
    mlp.add_module('c_fc', nn.Linear(32, 128))
    mlp.add_module('gelu', QuickGELU())
    mlp.add_module('c_proj', nn.Linear(128, 32))
    x = torch.randn(3, 11, 32)
    with torch.no_grad():
        assert torch.equal(run_mlp(mlp, x), mlp(x))  # float32: the MLP's own operations
        reference = mlp(x)
        fast = run_mlp(copy.deepcopy(mlp).bfloat16(), x.bfloat16())
    assert fast.dtype == torch.bfloat16
    assert (fast.float() - reference).abs().max().item() < 0.03 * reference.abs().max().item()


def test_run_mlp_falls_back_for_other_mlps():
    mlp = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    x = torch.randn(2, 8)
    assert torch.equal(run_mlp(mlp, x), mlp(x))


def test_bfloat16_dense_encoder_uses_the_fast_blocks_and_stays_close(monkeypatch):
    model = tiny_clip_vit(layers=3, width=64, heads=4)
    images = torch.randn(2, 3, 32, 32)
    request = DenseRequest(blocks=(0,), ffn_inputs=(1,))
    with torch.no_grad():
        reference = CLIPDenseEncoder(model, last_block='sclip')(images, request)
        calls = []
        monkeypatch.setattr('dense_clip.models.clip.dense_encoder.run_block',
                            lambda *a, **k: calls.append(1) or clip_ops.run_block(*a, **k))
        fp32 = CLIPDenseEncoder(model, last_block='sclip')(images, request)
        assert calls == []  # float32: open_clip's own blocks, bit-exact
        assert torch.equal(fp32.dense, reference.dense)
        bf16 = CLIPDenseEncoder(copy.deepcopy(model).to(torch.bfloat16),
                                last_block='sclip')(images, request)
    assert len(calls) == 2  # blocks 0 and 1 (with its FFN input); the last is the strategy's
    cosine = F.cosine_similarity(bf16.dense.float(), reference.dense, dim=1)
    assert cosine.min().item() > 0.99
    assert (bf16.ffn_inputs[1].float() - reference.ffn_inputs[1]).abs().max().item() < 0.1


def test_text_encoding_drops_its_packed_weights():
    import open_clip

    from dense_clip.models.clip import packed_linear
    from dense_clip.models.text import build_text_classifier, text_encoder_for

    model = copy.deepcopy(tiny_clip_vit()).to(torch.bfloat16)
    tokenizer = open_clip.get_tokenizer('ViT-B-16')
    text_ids = {id(p) for p in model.transformer.parameters()}
    encoder = text_encoder_for(model)
    with torch.no_grad():
        encoder(tokenizer(['a photo of a cat.']))
    if packed_linear.packed_linear_available():
        assert any(key[0] in text_ids for key in packed_linear._PACKED)
    encoder.release()
    assert not any(key[0] in text_ids for key in packed_linear._PACKED)
    build_text_classifier(model, tokenizer, ['cat', 'dog'], ['a photo of a {}.'])
    assert not any(key[0] in text_ids for key in packed_linear._PACKED)


@pytest.mark.parametrize('act', ['gelu', 'quick_gelu'])
def test_mlp_rows_in_chunks_equal_all_rows_at_once(act, monkeypatch):
    from open_clip.transformer import QuickGELU

    from dense_clip.models.clip import packed_linear

    torch.manual_seed(0)
    mlp = nn.Sequential()
    mlp.add_module('c_fc', nn.Linear(32, 128))
    mlp.add_module('gelu', QuickGELU() if act == 'quick_gelu' else nn.GELU())
    mlp.add_module('c_proj', nn.Linear(128, 32))
    mlp = mlp.bfloat16()
    x = torch.randn(3, 11, 32).bfloat16()
    calls = []
    with torch.no_grad():
        whole = run_mlp(mlp, x)
        monkeypatch.setattr(packed_linear, 'MLP_CHUNK_ROWS', 8)  # 33 rows: 5 chunks of 7 or less
        op = torch.ops.mkldnn._linear_pointwise
        monkeypatch.setattr(torch.ops.mkldnn, '_linear_pointwise',
                            lambda rows, *args: calls.append(rows.shape[0]) or op(rows, *args))
        chunked = run_mlp(mlp, x)
    assert chunked.shape == whole.shape == (3, 11, 32)
    if packed_linear_available():
        assert calls == [7, 7, 7, 7, 7, 7, 7, 7, 5, 5]  # fc, proj per chunk
        assert torch.equal(chunked, whole)  # rows are independent: the same products
    else:
        assert calls == [] and torch.equal(chunked, whole)


def test_packing_can_be_turned_off_by_the_environment(monkeypatch):
    from dense_clip.models.clip import packed_linear

    torch.manual_seed(0)
    weight, x = torch.randn(16, 8).bfloat16(), torch.randn(3, 8).bfloat16()
    packed_linear.packed_linear_available.cache_clear()
    try:
        monkeypatch.setenv('DENSE_CLIP_PACKED_WEIGHTS', '0')
        assert not packed_linear_available()
        with torch.no_grad():
            assert torch.equal(linear(x, weight), F.linear(x, weight))  # plain F.linear
        assert (id(weight), 1.0) not in _PACKED
        packed_linear.packed_linear_available.cache_clear()
        monkeypatch.setenv('DENSE_CLIP_PACKED_WEIGHTS', 'maybe')
        with pytest.raises(ValueError, match='DENSE_CLIP_PACKED_WEIGHTS must be 0 or 1'):
            packed_linear_available()
    finally:
        monkeypatch.delenv('DENSE_CLIP_PACKED_WEIGHTS')
        packed_linear.packed_linear_available.cache_clear()


def test_packed_results_do_not_depend_on_the_first_call():
    """A weight is packed once, by its first call; a one-row first call (a CLS token) once gave
    a layout with other roundings for every later batch (without oneDNN's kernels, both are
    F.linear)."""
    from dense_clip.models.clip.packed_linear import forget_packed

    torch.manual_seed(0)
    # ViT-B's out_proj over one window: a one-row layout rounds some outputs differently
    weight, bias = torch.randn(768, 768).bfloat16(), torch.randn(768).bfloat16()
    batch, one = torch.randn(197, 768).bfloat16(), torch.randn(1, 768).bfloat16()
    with torch.no_grad():
        forget_packed([weight])
        batch_first = linear(batch, weight, bias)
        forget_packed([weight])
        linear(one, weight, bias)  # packs the weight
        after_one = linear(batch, weight, bias)
    assert torch.equal(after_one, batch_first)
