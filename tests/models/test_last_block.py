"""Each last-block strategy against an independent computation of its formula.

The references below read the block's raw weights (in_proj_weight split into q, k, v rows, the
out projection, LayerNorm and MLP parameters) and use explicit matmuls; they never call the
package's helpers or open_clip's attention code.
"""

import math

import pytest
import torch

from dense_clip.models.clip import (
    LAST_BLOCKS,
    NACLIP,
    SCLIP,
    ClearCLIP,
    CLIPtrase,
    DenseOutput,
    DenseRequest,
    LastBlockStrategy,
    MaskCLIP,
    Vanilla,
    build_last_block,
)
from dense_clip.models.clip.ops import attnpool_global, vanilla_cls_token
from dense_clip.testing import tiny_clip_resnet, tiny_clip_vit

GRID = (4, 4)
ATOL = 1e-5


@pytest.fixture(scope='module')
def block():
    return tiny_clip_vit(seed=0).visual.transformer.resblocks[-1]


@pytest.fixture(scope='module')
def tokens():
    torch.manual_seed(1)
    return torch.randn(2, 1 + GRID[0] * GRID[1], 32)


# ---------------------------------------------------------------- independent reference maths
def ref_layer_norm(x, ln):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + ln.eps) * ln.weight + ln.bias


def ref_softmax(t):
    e = torch.exp(t - t.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def ref_qkv(block, x):
    b, n, c = x.shape
    heads = block.attn.num_heads
    weight, bias = block.attn.in_proj_weight, block.attn.in_proj_bias
    y = ref_layer_norm(x, block.ln_1)

    def project(i):
        t = y @ weight[i * c : (i + 1) * c].T + bias[i * c : (i + 1) * c]
        return t.reshape(b, n, heads, c // heads).permute(0, 2, 1, 3)

    return project(0), project(1), project(2)


def ref_out(block, mixed):
    b, h, n, d = mixed.shape
    merged = mixed.permute(0, 2, 1, 3).reshape(b, n, h * d)
    return merged @ block.attn.out_proj.weight.T + block.attn.out_proj.bias


def ref_ffn(block, x):
    hidden = ref_layer_norm(x, block.ln_2) @ block.mlp.c_fc.weight.T + block.mlp.c_fc.bias
    hidden = hidden * torch.sigmoid(1.702 * hidden)  # the tiny models use QuickGELU
    return x + hidden @ block.mlp.c_proj.weight.T + block.mlp.c_proj.bias


def ref_omega(grid, std):
    h, w = grid
    omega = torch.zeros(h * w + 1, h * w + 1)
    for i in range(h * w):
        for j in range(h * w):
            dy, dx = i // w - j // w, i % w - j % w
            omega[1 + i, 1 + j] = math.exp(-(dy * dy + dx * dx) / (2 * std * std))
    return omega


def reference(name, block, x):
    q, k, v = ref_qkv(block, x)
    s = q.shape[-1] ** -0.5
    if name == 'Vanilla':
        return ref_ffn(block, x + ref_out(block, ref_softmax(q @ k.transpose(-1, -2) * s) @ v))
    if name == 'MaskCLIP':
        return ref_ffn(block, x + ref_out(block, v))
    if name == 'SCLIP':
        attn = ref_softmax(q @ q.transpose(-1, -2) * s) + ref_softmax(k @ k.transpose(-1, -2) * s)
        return ref_ffn(block, x + ref_out(block, attn @ v))
    if name == 'ClearCLIP':
        return ref_out(block, ref_softmax(q @ q.transpose(-1, -2) * s) @ v)
    if name == 'NACLIP':
        attn = ref_softmax(k @ k.transpose(-1, -2) * s + ref_omega(GRID, 5.0))
        return ref_out(block, attn @ v)
    if name == 'CLIPtrase':
        attn = sum(ref_softmax(t @ t.transpose(-1, -2) * s) for t in (q, k, v))
        return ref_ffn(block, x + ref_out(block, attn @ v))
    raise KeyError(name)


STRATEGIES = ['Vanilla', 'MaskCLIP', 'SCLIP', 'ClearCLIP', 'NACLIP', 'CLIPtrase']


# ---------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize('name', STRATEGIES)
def test_strategy_matches_independent_formula(name, block, tokens):
    with torch.no_grad():
        got = build_last_block(name)(block, tokens, GRID)
        expected = reference(name, block, tokens)
    assert got.shape == tokens.shape
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=1e-5)


def test_vanilla_equals_open_clip_block(block, tokens):
    with torch.no_grad():
        expected = block(tokens)  # open_clip's ResidualAttentionBlock.forward
        torch.testing.assert_close(Vanilla()(block, tokens, GRID), expected, atol=ATOL, rtol=1e-5)
        torch.testing.assert_close(
            vanilla_cls_token(block, tokens), expected[:, :1], atol=ATOL, rtol=1e-5
        )


@pytest.mark.parametrize(
    'cls, residual, ffn',
    [
        (Vanilla, True, True),
        (MaskCLIP, True, True),
        (SCLIP, True, True),
        (ClearCLIP, False, False),
        (NACLIP, False, False),
        (CLIPtrase, True, True),
    ],
)
def test_residual_and_ffn_are_part_of_each_definition(cls, residual, ffn):
    assert (cls.keep_residual, cls.keep_ffn) == (residual, ffn)
    assert (cls().keep_residual, cls().keep_ffn) == (residual, ffn)


def test_per_instance_override_for_ablations(block, tokens):
    with torch.no_grad():
        q, k, v = ref_qkv(block, tokens)
        attn = ref_softmax(q @ q.transpose(-1, -2) * q.shape[-1] ** -0.5)
        expected = tokens + ref_out(block, attn @ v)  # ClearCLIP with its residual put back
        got = ClearCLIP(keep_residual=True)(block, tokens, GRID)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=1e-5)
    assert ClearCLIP.keep_residual is False  # the class definition is untouched


def test_naclip_omega_and_std(block, tokens):
    omega = NACLIP().omega(GRID)
    torch.testing.assert_close(omega, ref_omega(GRID, 5.0))
    assert omega[0].abs().sum() == 0 and omega[:, 0].abs().sum() == 0
    assert torch.all(torch.diagonal(omega)[1:] == 1)
    with torch.no_grad():
        assert not torch.allclose(
            NACLIP(gaussian_std=1.0)(block, tokens, GRID), NACLIP()(block, tokens, GRID)
        )
    with pytest.raises(ValueError, match='gaussian_std'):
        NACLIP(gaussian_std=0)
    with pytest.raises(ValueError, match='grid'):
        NACLIP()(block, tokens, (3, 4))


def test_cliptrase_self_correlation(block, tokens):
    with torch.no_grad():
        q, k, v = ref_qkv(block, tokens)
        sims = 0
        for t in (q, k, v):
            unit = t / t.norm(dim=-1, keepdim=True)
            sims = sims + unit @ unit.transpose(-1, -2)
        corr = (sims / 3).mean(dim=1)  # average over heads: (B, N, N)
        expected = (corr[:, 1:, 1:] - corr[:, :1, 1:]).clamp(min=0)
        out = DenseOutput(dense=tokens, cls=None, grid=GRID, block_inputs={-2: tokens})
        extras = CLIPtrase().compute_extras(out, {-2: block})
    torch.testing.assert_close(extras['self_correlation'], expected, atol=ATOL, rtol=1e-5)
    assert CLIPtrase().request == DenseRequest(block_inputs=(-2,))
    assert CLIPtrase().extras_names == ('self_correlation',)
    assert CLIPtrase(correlation_block=None).request == DenseRequest()


def test_maskclip_attention_is_identity(block, tokens):
    q, k, v = ref_qkv(block, tokens)
    eye = MaskCLIP().attention(q, k, v, GRID)
    assert torch.equal(eye @ v, v)


def test_registry_and_builder():
    assert set(STRATEGIES) <= set(LAST_BLOCKS.module_dict)
    assert isinstance(build_last_block(None), Vanilla)
    assert isinstance(build_last_block('naclip'), NACLIP)
    assert build_last_block(dict(type='NACLIP', gaussian_std=3.0)).gaussian_std == 3.0
    assert isinstance(build_last_block(dict(type=SCLIP)), SCLIP)
    strategy = ClearCLIP()
    assert build_last_block(strategy) is strategy
    with pytest.raises(ValueError, match='MaskCLIP') as err:
        build_last_block('ProxyCLIPX')
    assert 'NACLIP' in str(err.value) and 'Vanilla' in str(err.value)
    with pytest.raises(ValueError, match='valid'):
        build_last_block(dict(gaussian_std=3.0))
    assert issubclass(NACLIP, LastBlockStrategy)


def test_resnet_attnpool_variants():
    model = tiny_clip_resnet(seed=0)
    pool = model.visual.attnpool
    torch.manual_seed(2)
    feats = torch.randn(2, 4, pool.k_proj.in_features)
    pos = pool.positional_embedding
    with torch.no_grad():
        v = feats @ pool.v_proj.weight.T + pool.v_proj.bias
        expected = v @ pool.c_proj.weight.T + pool.c_proj.bias
        torch.testing.assert_close(MaskCLIP().forward_attnpool(pool, feats, pos), expected)

        # Vanilla: open_clip's own attention pool, every query token kept (torch MHA kernel).
        seq = torch.cat([feats.mean(1, keepdim=True), feats], 1) + pos
        seq = seq.transpose(0, 1)
        full, _ = torch.nn.functional.multi_head_attention_forward(
            seq,
            seq,
            seq,
            seq.shape[-1],
            pool.num_heads,
            None,
            torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            None,
            None,
            False,
            0.0,
            pool.c_proj.weight,
            pool.c_proj.bias,
            training=False,
            need_weights=False,
            use_separate_proj_weight=True,
            q_proj_weight=pool.q_proj.weight,
            k_proj_weight=pool.k_proj.weight,
            v_proj_weight=pool.v_proj.weight,
        )
        full = full.transpose(0, 1)
        torch.testing.assert_close(
            Vanilla().forward_attnpool(pool, feats, pos), full[:, 1:], atol=ATOL, rtol=1e-5
        )
        torch.testing.assert_close(
            attnpool_global(pool, feats, pos), full[:, 0], atol=ATOL, rtol=1e-5
        )
    with pytest.raises(ValueError, match='ResNet'):
        SCLIP().forward_attnpool(pool, feats, pos)
