"""load_clip on tiny checkpoints in every supported format; no network (delegation is mocked)."""

import open_clip
import pytest
import torch

from dense_clip.models.clip import infer_openai_config, load_clip, read_state_dict
from dense_clip.models.clip import loading as loading_module
from dense_clip.testing import (
    openai_state_dict,
    register_open_clip_config,
    save_open_clip_checkpoint,
    save_openai_state_dict,
    save_safetensors,
    save_torchscript,
    tiny_clip_resnet,
    tiny_clip_vit,
    tiny_vit_config,
)

TINY_NAME = 'dense-clip-test-tiny-vit'
WIDE_NAME = 'dense-clip-test-tiny-vit-w48'


@pytest.fixture(scope='module')
def vit():
    return tiny_clip_vit(seed=0)


@pytest.fixture(scope='module')
def resnet():
    return tiny_clip_resnet(seed=0)


@pytest.fixture(scope='module')
def files(tmp_path_factory, vit, resnet):
    root = tmp_path_factory.mktemp('checkpoints')
    register_open_clip_config(TINY_NAME, tiny_vit_config(), root)
    register_open_clip_config(WIDE_NAME, tiny_vit_config(width=48), root)
    return dict(
        openai=save_openai_state_dict(vit, root / 'vit_openai.pt'),
        torchscript=save_torchscript(vit, root / 'vit_jit.pt'),
        open_clip=save_open_clip_checkpoint(vit, root / 'vit_open_clip.bin'),
        safetensors=save_safetensors(vit, root / 'vit.safetensors'),
        resnet_openai=save_openai_state_dict(resnet, root / 'rn_openai.pt'),
        resnet_torchscript=save_torchscript(resnet, root / 'rn_jit.pt'),
        root=root,
    )


def outputs(model, size):
    torch.manual_seed(0)
    img = torch.randn(2, 3, size, size)
    text = open_clip.tokenize(['a photo of a cat', 'a dog'])
    with torch.no_grad():
        return model.encode_image(img), model.encode_text(text)


def assert_same_model(loaded, reference, size):
    ref_state = reference.state_dict()
    assert set(loaded.state_dict()) == set(ref_state)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, ref_state[key]), key
    for got, expected in zip(outputs(loaded, size), outputs(reference, size)):
        assert torch.equal(got, expected)
    assert not loaded.training


def test_infer_openai_config(vit, resnet):
    cfg = infer_openai_config(openai_state_dict(vit))
    assert cfg['embed_dim'] == 32 and cfg['quick_gelu'] is True
    assert cfg['vision_cfg'] == dict(
        layers=2, width=32, head_width=16, patch_size=8, image_size=32, mlp_ratio=4.0
    )
    assert cfg['text_cfg'] == dict(
        context_length=77, vocab_size=49408, width=32, heads=2, layers=1, mlp_ratio=4.0
    )
    cfg = infer_openai_config(openai_state_dict(resnet))
    assert cfg['vision_cfg'] == dict(layers=[1, 1, 1, 1], width=8, head_width=64, image_size=64)


@pytest.mark.parametrize('kind', ['openai', 'torchscript', 'safetensors'])
def test_openai_layout_files_load_without_a_name(files, vit, kind):
    model, tokenizer = load_clip(None, str(files[kind]))
    assert_same_model(model, vit, 32)
    assert tokenizer(['a cat']).shape == (1, 77)


@pytest.mark.parametrize('kind', ['resnet_openai', 'resnet_torchscript'])
def test_resnet_openai_files(files, resnet, kind):
    model, _ = load_clip(pretrained=str(files[kind]))
    assert_same_model(model, resnet, 64)


@pytest.mark.parametrize('kind', ['open_clip', 'safetensors', 'openai'])
def test_named_model_from_local_file(files, vit, kind):
    model, tokenizer = load_clip(TINY_NAME, str(files[kind]))
    assert_same_model(model, vit, 32)
    assert tokenizer(['a cat']).shape == (1, 77)


def test_read_state_dict_strips_module_and_uses_weights_only(files, monkeypatch):
    calls = []
    real_load = torch.load

    def checked_load(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', checked_load)
    state = read_state_dict(files['open_clip'])
    assert not any(key.startswith('module.') for key in state)
    read_state_dict(files['openai'])
    read_state_dict(files['torchscript'])  # TorchScript archives never go through torch.load
    assert calls == [True, True]


def test_shape_mismatch_names_file_and_keys(files):
    with pytest.raises(ValueError) as err:
        load_clip(WIDE_NAME, str(files['open_clip']))
    message = str(err.value)
    assert str(files['open_clip']) in message and 'visual.' in message
    assert '(32' in message and '(48' in message


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='no_such_clip.pt'):
        load_clip(None, '/nonexistent/dir/no_such_clip.pt')


def test_unknown_model_name():
    with pytest.raises(ValueError, match='ViT-B-16'):
        load_clip('ViT-B-61', 'openai')


def test_unusable_inputs(files, tmp_path):
    with pytest.raises(ValueError, match='model_name'):
        load_clip(None, 'openai')
    with pytest.raises(ValueError, match='precision'):
        load_clip(None, str(files['openai']), precision='fp16')
    path = tmp_path / 'foreign.pt'
    torch.save({'encoder.weight': torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match='model_name'):
        load_clip(None, str(path))


def test_heads_must_be_stored_for_non_openai_widths(vit, tmp_path):
    state = openai_state_dict(vit)
    del state['vision_heads']
    path = tmp_path / 'no_hints.pt'
    torch.save(state, path)
    with pytest.raises(ValueError, match='vision_heads'):
        load_clip(None, str(path))


def test_bf16(files, vit):
    model, _ = load_clip(None, str(files['openai']), precision='bf16')
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    torch.manual_seed(0)
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        got = model.encode_image(img.to(torch.bfloat16)).float()
        expected = vit.encode_image(img)
    assert torch.nn.functional.cosine_similarity(got, expected).min() > 0.99


def test_tags_and_hub_ids_are_delegated(monkeypatch, vit):
    calls = []

    def fake_create_model(name, **kwargs):
        calls.append((name, kwargs))
        return tiny_clip_vit(seed=0)

    monkeypatch.setattr(loading_module.open_clip, 'create_model', fake_create_model)
    monkeypatch.setattr(
        loading_module.open_clip,
        'get_tokenizer',
        lambda name, **kwargs: ('tokenizer', name, kwargs),
    )

    _, tokenizer = load_clip('ViT-B-16', 'openai', cache_dir='/cache')
    assert calls[-1] == (
        'ViT-B-16',
        dict(pretrained='openai', cache_dir='/cache', device='cpu', force_quick_gelu=True),
    )
    assert tokenizer == ('tokenizer', 'ViT-B-16', dict(cache_dir='/cache'))
    load_clip('ViT-B-16-quickgelu', 'openai')
    assert 'force_quick_gelu' not in calls[-1][1]
    load_clip('ViT-B-16', 'laion2b_s34b_b88k')
    assert 'force_quick_gelu' not in calls[-1][1]
    load_clip('hf-hub:org/repo')
    assert calls[-1][0] == 'hf-hub:org/repo' and calls[-1][1]['pretrained'] is None
    load_clip(None, 'hf-hub:org/repo', device='cpu')
    assert calls[-1][0] == 'hf-hub:org/repo'
