"""Proxy models: shapes, normalisation, pixel statistics, registry, weight files."""

from __future__ import annotations

import pytest
import torch

from dense_clip.models.proxy import (
    CLIP_MEAN_01,
    CLIP_STD_01,
    IMAGENET_MEAN_01,
    IMAGENET_STD_01,
    PROXY_MODELS,
    build_proxy_model,
    shrink_proxies,
)

TIMM_NAMES = ['dino_vits16', 'dino_vits8', 'dino_vitb16', 'dino_vitb8', 'dinov2_vitb14',
              'dinov2_vitb14_reg']
ALL_NAMES = [*TIMM_NAMES, 'sam_vitb']


def test_registry_lists_the_authors_proxies():
    # mc-lan/ProxyCLIP proxyclip_segmentor.py accepts these names (plus SAM).
    PROXY_MODELS.import_from_location()
    assert sorted(PROXY_MODELS.module_dict) == sorted(ALL_NAMES)


@pytest.mark.parametrize('name', ALL_NAMES)
def test_every_proxy_gives_normalised_features_on_its_grid(name):
    torch.manual_seed(0)
    proxy = build_proxy_model(dict(type=name, tiny=True))
    images = torch.randn(2, 3, 45, 61)
    feats = proxy(images)
    if name.startswith('sam'):
        grid = (4, 4)  # resized to the encoder's square input (64 px tiny, patch 16)
    else:
        ph, pw = proxy.patch_size
        grid = (45 // ph, 61 // pw)  # remainder dropped, any aspect ratio
    assert feats.shape[0] == 2 and tuple(feats.shape[-2:]) == grid
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(2, *grid))
    assert not any(p.requires_grad for p in proxy.parameters())
    proxy.train()
    assert not proxy.training


def test_renormalisation_maps_clip_inputs_to_imagenet_statistics():
    proxy = build_proxy_model(dict(type='dino_vitb16', tiny=True))
    raw = torch.rand(1, 3, 8, 8)
    clip_in = (raw - torch.tensor(CLIP_MEAN_01).view(1, 3, 1, 1)) / torch.tensor(
        CLIP_STD_01).view(1, 3, 1, 1)
    expected = (raw - torch.tensor(IMAGENET_MEAN_01).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD_01).view(1, 3, 1, 1)
    torch.testing.assert_close(proxy.renormalise(clip_in), expected)


def test_qkv_features_match_the_last_block_projection():
    proxy = build_proxy_model(dict(type='dino_vitb16', tiny=True, feature='v'))
    images = torch.randn(1, 3, 32, 48)
    feats = proxy(images)
    vit = proxy.vit
    x = vit.patch_embed(proxy.renormalise(images))
    x = vit._pos_embed(x)
    x = vit.norm_pre(x)
    for blk in vit.blocks[:-1]:
        x = blk(x)
    last = vit.blocks[-1]
    width = x.shape[-1]
    v = last.attn.qkv(last.norm1(x))[..., 2 * width:]  # heads concatenated in order
    expected = torch.nn.functional.normalize(v[:, 1:], dim=-1).transpose(1, 2).reshape(1, -1, 2, 3)
    torch.testing.assert_close(feats, expected)


def test_cls_attention_is_a_distribution_over_patches_and_prefix():
    proxy = build_proxy_model(dict(type='dinov2_vitb14_reg', tiny=True))
    parts = proxy.attention_parts(torch.randn(2, 3, 56, 42))
    attn = parts['cls_attn']
    assert attn.shape == (2, 2, 4, 3) and parts['feats'].shape[-2:] == (4, 3)
    assert parts['keys'].shape == (2, 2, 12, 16)
    assert (attn > 0).all() and (attn.flatten(2).sum(-1) < 1).all()  # prefix tokens take the rest


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match='dino_vitb8'):
        build_proxy_model(dict(type='dino_vit_huge'))


def test_local_checkpoint_is_loaded_lazily_and_once(tmp_path):
    from safetensors.torch import save_file

    source = build_proxy_model(dict(type='dino_vitb8', tiny=True))
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    path = tmp_path / 'dino.safetensors'
    save_file({k: v.contiguous() for k, v in source.vit.state_dict().items()}, str(path))
    proxy = build_proxy_model(dict(type='dino_vitb8', tiny=True))
    proxy.checkpoint = str(path)  # tiny builds ignore weights; point this one at the file
    proxy._weights_loaded = False
    images = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(proxy(images), source(images))  # loaded before the first pass
    assert proxy._weights_loaded


def test_shrink_proxies_marks_every_proxy_dict():
    cfg = dict(last_block=dict(type='proxyclip', proxy=dict(type='dino_vitb8', pretrained=True)),
               teacher=dict(type='dino_vitb16'), other=dict(proxy='not-a-dict'))
    shrunk = shrink_proxies(cfg)
    assert shrunk['last_block']['proxy']['tiny'] and shrunk['teacher']['tiny']
    assert 'tiny' not in cfg['teacher']  # copy, not in place


def test_sam_checkpoint_keeps_only_the_image_encoder(tmp_path):
    source = build_proxy_model(dict(type='sam_vitb', tiny=True))
    state = {f'image_encoder.{k}': v.normal_() for k, v in source.encoder.state_dict().items()}
    state['mask_decoder.iou_token.weight'] = torch.zeros(4, 16)  # ignored
    torch.save(state, tmp_path / 'sam_tiny.pth')
    proxy = build_proxy_model(dict(type='sam_vitb', tiny=True))
    proxy.load_checkpoint(str(tmp_path / 'sam_tiny.pth'))
    images = torch.randn(1, 3, 40, 40)
    torch.testing.assert_close(proxy(images), source(images))
