"""Converted entries: OpenAI CLIP archives, CLIP-DINOiser heads, DINOv2 release files; the zoo
names resolve in CLIPSource / load_clip, head checkpoints, proxy checkpoints and mmengine."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope

from dense_clip.models.clip.loading import load_clip
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.proxy import TimmViTProxy
from dense_clip.testing import (
    register_open_clip_config,
    save_torchscript,
    tiny_clip_vit,
    tiny_vit_config,
)
from dense_clip.zoo import ZooError, load_index, resolve
from dense_clip.zoo.cache import converted_path, read_record
from tests.conftest import load_tool
from tests.zoo.fakes import git_blob_sha1, sha256, weight_entry, write_index

TINY_ARCH = 'zoo-tiny-vit'  # registered without QuickGELU; the zoo entry says the weights need it
DINOV2 = 'vit_base_patch14_reg4_dinov2.lvd142m'
DINOV2_ARCH = dict(depth=2, embed_dim=32, num_heads=2, img_size=56)


def serve(server, name: str, content: bytes) -> str:
    return server.add(f'/{name}', content)


@pytest.fixture
def openai_file(tmp_path_factory) -> tuple[bytes, torch.nn.Module]:
    """A tiny CLIP ViT with QuickGELU saved as OpenAI saves theirs (a TorchScript archive)."""
    folder = tmp_path_factory.mktemp('openai')
    config = dict(tiny_vit_config(), quick_gelu=False)
    register_open_clip_config(TINY_ARCH, config, folder)
    model = tiny_clip_vit(seed=3)
    path = save_torchscript(model, folder / 'tiny.pt')
    return path.read_bytes(), model


def image_features(model: torch.nn.Module) -> torch.Tensor:
    torch.manual_seed(1)
    with torch.no_grad():
        return model.encode_image(torch.randn(2, 3, 32, 32))


def test_openai_archive_is_converted_once_and_loads_with_quickgelu(zoo_env, server,
                                                                    openai_file):
    content, reference = openai_file
    url = serve(server, 'tiny.pt', content)
    write_index(zoo_env / 'index', [
        weight_entry('tiny_openai', url, SHA256=sha256(content), Convert='openai_clip',
                     **{'Open CLIP': f'{TINY_ARCH}/test', 'QuickGELU': True}),
        weight_entry('tiny_openai_noarch', url, Convert='openai_clip')])
    expected = image_features(reference)
    for model_name in (TINY_ARCH, None):
        source = CLIPSource(model_name=model_name, pretrained='zoo://tiny_openai')
        model, _ = source.build()
        source.load_weights(model)
        torch.testing.assert_close(image_features(model), expected)
    converted = converted_path(load_index().weight('tiny_openai'))
    assert converted.suffix == '.safetensors'
    record = read_record(converted)
    assert record['source_sha256'] == sha256(content) and record['converter'] == 'openai_clip'
    stamp, requests = converted.stat().st_mtime_ns, len(server.requests)
    model, _ = load_clip(TINY_ARCH, 'zoo://tiny_openai')
    torch.testing.assert_close(image_features(model), expected)
    assert converted.stat().st_mtime_ns == stamp and len(server.requests) == requests
    inferred, _ = load_clip(None, 'zoo://tiny_openai_noarch')  # architecture from the file
    torch.testing.assert_close(image_features(inferred), expected)
    with pytest.raises(ValueError, match='do not fit model_name'):
        CLIPSource(model_name='ViT-B-16', pretrained='zoo://tiny_openai').build()


def authors_heads(width: int = 32, corr_dim: int = 16) -> dict:
    """CLIP-DINOiser's last.pt layout (wysoczanska/clip_dinoiser train.py), tiny sizes."""
    torch.manual_seed(0)
    return {'epoch': 3, 'model_state_dict': {
        'obj_proj.weight': torch.randn(corr_dim, width, 3, 3),
        'obj_proj.bias': torch.randn(corr_dim),
        'bkg_decoder.weight': torch.randn(1, width, 1, 1),
        'bkg_decoder.bias': torch.randn(1)}}


def tiny_dinoiser(checkpoint: str | None = None):
    from dense_clip.testing import tiny_segmentor

    init_default_scope('mmseg')
    tiny = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=4, width=32, patch_size=8,
                                              head_width=16),
                text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
    return tiny_segmentor(
        clip=dict(model_cfg=tiny), text=dict(vocabulary=dict(classnames=['cat', 'dog'])),
        head=dict(type='DINOiserHead', corr_dim=16, checkpoint=checkpoint),
        test_cfg=dict(mode='whole'))


def test_clip_dinoiser_heads_load_from_zoo_names(zoo_env, server, tmp_path):
    from mmengine.runner import load_checkpoint

    from dense_clip.utils.checkpoint import install_mmengine_checkpoint_loader

    heads = authors_heads()
    buffer = io.BytesIO()
    torch.save(heads, buffer)
    content = buffer.getvalue()
    (tmp_path / 'last.pt').write_bytes(content)
    blob_id = subprocess.run(['git', 'hash-object', str(tmp_path / 'last.pt')],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert blob_id == git_blob_sha1(content)
    url = serve(server, 'checkpoints/last.pt', content)
    write_index(zoo_env / 'index', [weight_entry(
        'tiny_dinoiser_heads', url, File='last.pt', Convert='clip_dinoiser_heads',
        **{'Git SHA1': blob_id})])
    authors = heads['model_state_dict']
    model = tiny_dinoiser('zoo://tiny_dinoiser_heads')
    model.init_weights()
    torch.testing.assert_close(model.head.corr_head.conv.weight, authors['obj_proj.weight'])
    torch.testing.assert_close(model.head.bkg_head.conv.bias, authors['bkg_decoder.bias'])
    install_mmengine_checkpoint_loader()
    other = tiny_dinoiser()
    load_checkpoint(other, 'zoo://tiny_dinoiser_heads', map_location='cpu', strict=False)
    torch.testing.assert_close(other.head.corr_head.conv.weight, authors['obj_proj.weight'])
    converted = resolve('tiny_dinoiser_heads')
    converted.write_bytes(b'damaged')  # a broken conversion is redone from the cached source
    requests = len(server.requests)
    again = tiny_dinoiser('zoo://tiny_dinoiser_heads')
    again.init_weights()
    torch.testing.assert_close(again.head.bkg_head.conv.weight, authors['bkg_decoder.weight'])
    assert len(server.requests) == requests


def dinov2_release_file() -> tuple[bytes, TimmViTProxy]:
    """A tiny DINOv2-with-registers file in facebookresearch/dinov2's key layout."""
    torch.manual_seed(0)
    reference = TimmViTProxy(DINOV2, arch=DINOV2_ARCH)
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_(0, 0.2)
    timm_state = reference.vit.state_dict()
    authors = {k: v.clone() for k, v in timm_state.items() if k not in ('reg_token',)}
    authors['register_tokens'] = timm_state['reg_token'].clone()
    # DINOv2 keeps the CLS position in pos_embed; timm folds it into cls_token.
    cls_pos = torch.randn(1, 1, 32)
    authors['pos_embed'] = torch.cat([cls_pos, timm_state['pos_embed']], dim=1)
    authors['cls_token'] = timm_state['cls_token'] - cls_pos
    authors['mask_token'] = torch.zeros(1, 32)
    buffer = io.BytesIO()
    torch.save(authors, buffer)
    return buffer.getvalue(), reference


def test_dinov2_release_file_is_converted_to_timm_keys_for_proxies(zoo_env, server):
    content, reference = dinov2_release_file()
    url = serve(server, 'dinov2_vitb14_reg4_pretrain.pth', content)
    write_index(zoo_env / 'index', [weight_entry(
        'tiny_dinov2', url, Convert='timm_vit', Proxy='dinov2_vitb14_reg',
        **{'Convert Args': dict(timm_name=DINOV2, arch=DINOV2_ARCH)})])
    proxy = TimmViTProxy(DINOV2, arch=DINOV2_ARCH, checkpoint='zoo://tiny_dinov2')
    images = torch.randn(1, 3, 56, 70)
    torch.testing.assert_close(proxy(images), reference(images))


def test_a_converter_that_is_not_registered_is_named(zoo_env, server):
    url = serve(server, 'x.pth', b'anything')
    write_index(zoo_env / 'index', [weight_entry('pending', url, Convert='not_yet_written')])
    with pytest.raises(ZooError, match=r"converter 'not_yet_written' is not registered .*"
                                       r"clip_dinoiser_heads.*openai_clip.*timm_vit"):
        resolve('pending')


def test_a_failing_converter_names_itself_and_the_file(zoo_env, server):
    buffer = io.BytesIO()
    torch.save({'weight': torch.zeros(2)}, buffer)
    url = serve(server, 'wrong.pth', buffer.getvalue())
    write_index(zoo_env / 'index', [weight_entry('wrong', url, Convert='clip_dinoiser_heads')])
    with pytest.raises(ZooError, match=r"converter 'clip_dinoiser_heads' failed on .*wrong\.pth"):
        resolve('wrong')


def test_converter_command_lines_match_the_registered_functions(tmp_path, openai_file):
    from safetensors import safe_open
    from safetensors.torch import load_file

    from dense_clip.zoo.converters import openai_clip, timm_vit

    content, _ = openai_file
    (tmp_path / 'clip.pt').write_bytes(content)
    load_tool('model_converters/openai_clip.py').main(
        [str(tmp_path / 'clip.pt'), str(tmp_path / 'clip.safetensors')])
    written = load_file(str(tmp_path / 'clip.safetensors'))
    expected = openai_clip(tmp_path / 'clip.pt')
    metadata = expected.pop('__metadata__')  # the archive's architecture, stored in the file
    assert written.keys() == expected.keys()
    assert all(torch.equal(written[k], expected[k]) for k in expected)
    with safe_open(str(tmp_path / 'clip.safetensors'), framework='pt') as file:
        assert file.metadata() == metadata
    (tmp_path / 'dinov2.pth').write_bytes(dinov2_release_file()[0])
    load_tool('model_converters/timm_vit.py').main(
        [str(tmp_path / 'dinov2.pth'), str(tmp_path / 'dinov2.safetensors'),
         '--timm-name', DINOV2, '--arch', '{"depth": 2, "embed_dim": 32, "num_heads": 2, '
                                          '"img_size": 56}'])
    written = load_file(str(tmp_path / 'dinov2.safetensors'))
    expected = timm_vit(tmp_path / 'dinov2.pth', DINOV2, DINOV2_ARCH)
    assert written.keys() == expected.keys()
    assert all(torch.equal(written[k], expected[k]) for k in expected)


def test_source_module_path_for_converters():
    from dense_clip.registry import WEIGHT_CONVERTERS

    assert WEIGHT_CONVERTERS.get('timm_vit') is not None  # imported lazily from its location
    assert Path(WEIGHT_CONVERTERS.get('openai_clip').__code__.co_filename).name == 'converters.py'
