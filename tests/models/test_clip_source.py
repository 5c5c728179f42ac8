"""CLIPSource: architecture at build time, weights in load_weights, identity for caches."""

from __future__ import annotations

import os

import pytest
import torch

from dense_clip.models.clip_source import CLIPSource
from dense_clip.testing import (
    save_openai_state_dict,
    save_safetensors,
    tiny_clip_vit,
    tiny_vit_config,
)


def test_openai_tag_builds_quick_gelu_architecture():
    model, _ = CLIPSource(model_name='ViT-B-16', pretrained='openai').build()
    assert type(model.visual.transformer.resblocks[0].mlp.gelu).__name__ == 'QuickGELU'


def test_model_cfg_with_safetensors_loads_in_init(tmp_path):
    trained = tiny_clip_vit(seed=3)
    path = save_safetensors(trained, tmp_path / 'tiny.safetensors', hints=False)
    source = CLIPSource(model_cfg=tiny_vit_config(), pretrained=str(path))
    model, tokenizer = source.build()
    assert not torch.equal(model.visual.proj, trained.visual.proj)  # random until loaded
    source.load_weights(model)
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert tokenizer(['a cat']).shape == (1, 77)


def test_openai_file_without_name_infers_architecture(tmp_path):
    trained = tiny_clip_vit(seed=1)
    path = save_openai_state_dict(trained, tmp_path / 'tiny_openai.pt')
    source = CLIPSource(pretrained=str(path))
    model, _ = source.build()
    source.load_weights(model)  # already loaded at build: no-op
    image = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model.encode_image(image), trained.encode_image(image))


def test_wrong_checkpoint_names_file(tmp_path):
    other = tiny_clip_vit(width=64, heads=2)
    path = save_safetensors(other, tmp_path / 'wide.safetensors', hints=False)
    source = CLIPSource(model_cfg=tiny_vit_config(), pretrained=str(path))
    model, _ = source.build()
    with pytest.raises(ValueError, match='wide.safetensors'):
        source.load_weights(model)


def test_identity_follows_the_text_weights_not_the_file(tmp_path):
    path = save_safetensors(tiny_clip_vit(), tmp_path / 'w.safetensors', hints=False)
    source = CLIPSource(model_cfg=tiny_vit_config(), pretrained=str(path))
    model, _ = source.build()
    source.load_weights(model)
    before = source.identity(model)
    os.utime(path, ns=(0, 12345))  # a touched file with the same weights: same entry
    assert source.identity(model) == before
    with torch.no_grad():
        model.visual.proj.add_(1.0)  # the image tower does not change text embeddings
    assert source.identity(model) == before
    with torch.no_grad():
        model.text_projection.add_(1.0)
    assert source.identity(model) != before


@pytest.mark.parametrize('kwargs, message', [
    (dict(), 'needs model_name'),
    (dict(model_name='ViT-B-16', model_cfg={}), 'either'),
    (dict(model_name='dense_clip:nope'), 'unknown embedded model'),
])
def test_bad_sources(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CLIPSource(**kwargs)
