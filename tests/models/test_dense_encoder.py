"""CLIPDenseEncoder on tiny open_clip towers: equality with open_clip, pos-embed modes, blocks."""

import copy

import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.clip import ClearCLIP, CLIPDenseEncoder, CLIPtrase, resize_pos_embed
from dense_clip.testing import build_from_config, tiny_clip_resnet, tiny_clip_vit, tiny_vit_config

STRATEGIES = ['Vanilla', 'MaskCLIP', 'SCLIP', 'ClearCLIP', 'NACLIP', 'CLIPtrase']


def images(*shape, seed=0):
    torch.manual_seed(seed)
    return torch.randn(*shape)


def manual_vit_tokens(visual, img):
    """Embedding + every block, written out from open_clip's modules: list of block outputs."""
    x = visual.conv1(img).flatten(2).transpose(1, 2)
    cls = visual.class_embedding.reshape(1, 1, -1).expand(x.shape[0], 1, -1)
    x = visual.ln_pre(torch.cat([cls, x], 1) + visual.positional_embedding)
    outputs = []
    for block in visual.transformer.resblocks:
        x = block(x)
        outputs.append(x)
    return outputs


@pytest.fixture(scope='module')
def vit():
    return tiny_clip_vit(seed=0)


def test_vanilla_matches_open_clip_forward():
    model = tiny_clip_vit(seed=3)
    img = images(2, 3, 32, 32)
    with torch.no_grad():
        out = CLIPDenseEncoder(model, 'vanilla')(img)
        model.visual.output_tokens = True
        pooled, tokens = model.visual(img)  # open_clip: ln_post'ed patch tokens, no proj
    expected = (tokens @ model.visual.proj).transpose(1, 2).reshape(2, -1, 4, 4)
    torch.testing.assert_close(out.dense, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.cls, pooled, atol=1e-5, rtol=1e-5)
    assert out.grid == (4, 4) and out.blocks == {} and out.extras == {}


@pytest.mark.parametrize('name', STRATEGIES)
def test_cls_is_clip_image_embedding_for_every_strategy(vit, name):
    img = images(2, 3, 32, 32, seed=1)
    with torch.no_grad():
        out = CLIPDenseEncoder(vit, name)(img)
        torch.testing.assert_close(out.cls, vit.encode_image(img), atol=1e-5, rtol=1e-5)
    assert out.dense.shape == (2, 32, 4, 4)


@pytest.mark.parametrize(
    'variant',
    [
        dict(pool_type='avg'),
        dict(pool_type='avg', final_ln_after_pool=True),
        dict(ls_init_value=0.1),
        dict(no_ln_pre=True),
        dict(qk_norm=True, scale_heads=True, scale_attn_inner=True, scale_attn=True),
    ],
)
def test_open_clip_vit_variants(variant):
    config = tiny_vit_config()
    config['vision_cfg'].update(variant)
    model = build_from_config(config, seed=8)
    img = images(2, 3, 32, 32)
    with torch.no_grad():
        out = CLIPDenseEncoder(model)(img)
        masked = CLIPDenseEncoder(model, 'MaskCLIP')(img)
        model.visual.output_tokens = True
        pooled, tokens = model.visual(img)
    torch.testing.assert_close(out.cls, pooled, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(masked.cls, pooled, atol=1e-5, rtol=1e-5)
    if not variant.get('final_ln_after_pool'):  # there open_clip leaves its tokens un-normed
        dense = out.dense.flatten(2).transpose(1, 2)
        torch.testing.assert_close(dense, tokens @ model.visual.proj, atol=1e-5, rtol=1e-5)


def test_cls_from_strategy_output(vit):
    img = images(1, 3, 32, 32)
    with torch.no_grad():
        out = CLIPDenseEncoder(vit, 'ClearCLIP', vanilla_cls=False)(img, return_blocks=(-1,))
    expected = vit.visual.ln_post(out.blocks[-1][:, 0]) @ vit.visual.proj
    torch.testing.assert_close(out.cls, expected)


def test_intermediates_equal_manual_pass_in_one_pass():
    model = tiny_clip_vit(layers=3, seed=4)
    img = images(2, 3, 32, 32, seed=2)
    calls = []
    hooks = [
        blk.register_forward_hook(lambda *_: calls.append(1))
        for blk in model.visual.transformer.resblocks
    ]
    with torch.no_grad():
        out = CLIPDenseEncoder(model, 'MaskCLIP')(img, return_blocks=(0, -3, 1, -2))
    for hook in hooks:
        hook.remove()
    assert len(calls) == 2  # blocks 0 and 1 ran once each; the last goes through the strategy
    with torch.no_grad():
        manual = manual_vit_tokens(model.visual, img)
    assert set(out.blocks) == {0, -3, 1, -2}
    torch.testing.assert_close(out.blocks[0], manual[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.blocks[-3], manual[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.blocks[-2], manual[1], atol=1e-5, rtol=1e-5)


def test_last_block_entry_and_extras():
    model = tiny_clip_vit(layers=3, seed=5)
    img = images(1, 3, 32, 32)
    last = model.visual.transformer.resblocks[-1]
    with torch.no_grad():
        out = CLIPDenseEncoder(model, ClearCLIP())(img, return_blocks=(-2, -1))
        torch.testing.assert_close(out.blocks[-1], ClearCLIP()(last, out.blocks[-2], (4, 4)))
        dense = model.visual.ln_post(out.blocks[-1][:, 1:]) @ model.visual.proj
        torch.testing.assert_close(out.dense, dense.transpose(1, 2).reshape(1, -1, 4, 4))

        trase = CLIPDenseEncoder(model, 'CLIPtrase')(img, return_blocks=(-3,))
        block = model.visual.transformer.resblocks[-2]
        corr = CLIPtrase.recalibrate(CLIPtrase.self_correlation(block, trase.blocks[-3]))
    torch.testing.assert_close(trase.extras['self_correlation'], corr)
    assert corr.shape == (1, 16, 16) and corr.min() >= 0


def test_pos_embed_modes_both_work_and_differ(vit):
    img = images(1, 3, 48, 40)  # grid (6, 5) from a 4x4 training grid
    pos = vit.visual.positional_embedding.detach()
    patches = pos[1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    outs = {}
    for mode in ('size', 'authors'):
        enc = CLIPDenseEncoder(vit, 'NACLIP', pos_embed_interp=mode)
        with torch.no_grad():
            outs[mode] = enc(img)
        assert outs[mode].grid == (6, 5) and outs[mode].dense.shape == (1, 32, 6, 5)
        if mode == 'size':
            grid = F.interpolate(patches, size=(6, 5), mode='bicubic', align_corners=False)
        else:
            grid = F.interpolate(
                patches, scale_factor=(6.1 / 4, 5.1 / 4), mode='bicubic', align_corners=False
            )
        expected = torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(30, -1)])
        torch.testing.assert_close(
            enc._pos_embed(vit.visual.positional_embedding, (6, 5)), expected
        )
        # at the training grid both modes keep the learned embedding untouched
        assert torch.equal(resize_pos_embed(pos, (4, 4), (4, 4), mode), pos)
    assert not torch.allclose(outs['size'].dense, outs['authors'].dense, atol=1e-4)
    with pytest.raises(ValueError, match='pos_embed_interp'):
        CLIPDenseEncoder(vit, pos_embed_interp='bilinear')


def test_pos_embed_cache_follows_weights():
    model = tiny_clip_vit(seed=6)
    enc = CLIPDenseEncoder(model, pos_embed_interp='authors')
    param = model.visual.positional_embedding
    with torch.no_grad():
        first = enc._pos_embed(param, (5, 5))
        assert enc._pos_embed(param, (5, 5)) is first
        param.add_(1.0)
        second = enc._pos_embed(param, (5, 5))
    assert second is not first
    torch.testing.assert_close(second, first + 1.0, atol=1e-5, rtol=1e-5)  # bicubic is affine


def test_non_multiple_input_drops_remainder(vit):
    img = images(1, 3, 36, 44)
    with torch.no_grad():
        out = CLIPDenseEncoder(vit, 'SCLIP')(img)
        cropped = CLIPDenseEncoder(vit, 'SCLIP')(img[:, :, :32, :40])
    assert out.grid == (4, 5)
    torch.testing.assert_close(out.dense, cropped.dense)


def test_other_patch_size_matches_open_clip():
    model = tiny_clip_vit(patch_size=4, image_size=32, seed=7)
    img = images(1, 3, 32, 32)
    with torch.no_grad():
        out = CLIPDenseEncoder(model)(img)
        model.visual.output_tokens = True
        pooled, tokens = model.visual(img)
    assert out.grid == (8, 8)
    torch.testing.assert_close(
        out.dense.flatten(2).transpose(1, 2), tokens @ model.visual.proj, atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(out.cls, pooled, atol=1e-5, rtol=1e-5)


def test_sequence_first_towers(vit):
    img = images(1, 3, 40, 32)
    model = copy.deepcopy(vit)
    model.visual.transformer.batch_first = False
    for block in model.visual.transformer.resblocks:
        block.attn.batch_first = False
    with torch.no_grad():
        expected = CLIPDenseEncoder(vit, 'SCLIP')(img, return_blocks=(0,))
        got = CLIPDenseEncoder(model, 'SCLIP')(img, return_blocks=(0,))
    torch.testing.assert_close(got.dense, expected.dense)
    torch.testing.assert_close(got.blocks[0], expected.blocks[0])


def test_resnet_maskclip_feature_is_value_path():
    model = tiny_clip_resnet(seed=0)
    visual = model.visual
    img = images(2, 3, 64, 64)
    with torch.no_grad():
        out = CLIPDenseEncoder(model, 'MaskCLIP')(img, return_blocks=(0, -1))
        c5 = visual.layer4(visual.layer3(visual.layer2(visual.layer1(visual.stem(img)))))
        pool = visual.attnpool
        v = F.conv2d(c5, pool.v_proj.weight[:, :, None, None], pool.v_proj.bias)
        expected = F.conv2d(v, pool.c_proj.weight[:, :, None, None], pool.c_proj.bias)
        torch.testing.assert_close(out.dense, expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out.cls, model.encode_image(img), atol=1e-5, rtol=1e-5)
    assert out.grid == (2, 2)
    assert out.blocks[-1].shape == c5.shape and out.blocks[0].shape == (2, 8, 16, 16)


def test_resnet_other_grid_and_unsupported_strategy():
    model = tiny_clip_resnet(seed=1)
    with torch.no_grad():
        out = CLIPDenseEncoder(model, 'Vanilla', pos_embed_interp='authors')(images(1, 3, 96, 64))
    assert out.grid == (3, 2) and out.dense.shape == (1, 32, 3, 2) and out.cls.shape == (1, 32)
    with pytest.raises(ValueError, match='ResNet'):
        CLIPDenseEncoder(model, 'NACLIP')(images(1, 3, 64, 64))


@pytest.mark.parametrize('name', ['MaskCLIP', 'NACLIP'])
def test_bf16_close_to_fp32(vit, name):
    img = images(1, 3, 48, 48)
    with torch.no_grad():
        ref = CLIPDenseEncoder(vit, name)(img)
        out = CLIPDenseEncoder(copy.deepcopy(vit).to(torch.bfloat16), name)(img)
    assert out.dense.dtype == torch.bfloat16
    cos = F.cosine_similarity(out.dense.float(), ref.dense, dim=1)
    assert cos.min() > 0.99
    assert F.cosine_similarity(out.cls.float(), ref.cls, dim=-1).min() > 0.99


def test_errors(vit):
    enc = CLIPDenseEncoder(vit)
    with pytest.raises(ValueError, match='images'):
        enc(torch.zeros(3, 32, 32))
    with pytest.raises(IndexError, match='out of range'):
        enc(images(1, 3, 32, 32), return_blocks=(2,))
    with pytest.raises(ValueError, match='valid'):
        CLIPDenseEncoder(vit, 'not-a-method')
    with pytest.raises(TypeError, match='VisionTransformer'):
        CLIPDenseEncoder(torch.nn.Linear(2, 2))
    assert enc.embed_dim == 32 and enc.patch_size == (8, 8) and enc.num_blocks == 2
