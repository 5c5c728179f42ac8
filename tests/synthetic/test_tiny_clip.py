"""Tests of the embedded tiny CLIP checkpoint and its loader."""

from __future__ import annotations

import json

import numpy as np
import open_clip
import pytest
import torch

from dense_clip.synthetic import dataset, world
from dense_clip.synthetic import tiny_clip as tc

# Shipped checkpoint: .906 on these 64 images, .8875 on 480 (RECIPE.md); chance is 1/24.
ZERO_SHOT_FLOOR = 0.75


@pytest.fixture(scope='module')
def loaded() -> tuple:
    return tc.load_tiny_clip()


def test_checkpoint_record() -> None:
    record = json.loads(tc.CHECKPOINT.with_suffix('.json').read_text())
    assert record['sha256'] == tc.sha256_file(tc.CHECKPOINT)
    assert record['bytes'] == tc.CHECKPOINT.stat().st_size < 10 * 2**20
    assert record['command'].startswith('python tools/train_tiny_clip.py')
    assert record['tokenizer']['name'] == 'ViT-B-16'
    assert set(record['model_cfg']) == {'embed_dim', 'vision_cfg', 'text_cfg'}


def test_sha256_mismatch_raises(tmp_path) -> None:
    bad = tmp_path / 'tiny.safetensors'
    bad.write_bytes(tc.CHECKPOINT.read_bytes()[:-1] + b'\0')
    bad.with_suffix('.json').write_text(tc.CHECKPOINT.with_suffix('.json').read_text())
    with pytest.raises(ValueError, match='sha256'):
        tc.load_tiny_clip(bad)


def test_loads_real_open_clip_model(loaded: tuple) -> None:
    model, tokenizer = loaded
    assert isinstance(model, open_clip.CLIP) and not model.training
    assert model.token_embedding.weight.shape[0] == 49408
    tokens = tokenizer(['a photo of a red striped object.'])
    ref = open_clip.get_tokenizer('ViT-B-16')(['a photo of a red striped object.'])
    assert torch.equal(tokens[0], ref[0, : tokens.shape[1]])


def test_zero_shot_above_floor(loaded: tuple) -> None:
    model, tokenizer = loaded
    images, labels = dataset.classification_set(seed=12345, n=64)
    cats = world.categories()
    cls = tc.text_classifier(model, tokenizer, [c.synonyms for c in cats],
                             list(world.CAPTION_TEMPLATES))
    with torch.no_grad():
        feats = model.encode_image(tc.to_tensor(images), normalize=True)
    pred = torch.einsum('bd,csd->bcs', feats, cls).amax(-1).argmax(-1).numpy()
    acc = float((pred == labels).mean())
    assert acc > ZERO_SHOT_FLOOR, acc


def test_save_load_roundtrip_is_exact(tmp_path) -> None:
    torch.manual_seed(0)
    cfg = json.loads(json.dumps(tc.TINY_CLIP_CFG))
    cfg['vision_cfg'].update(width=32, layers=1, head_width=16)
    cfg['text_cfg'].update(width=32, layers=1, heads=2)
    cfg['embed_dim'] = 16
    model = tc.build_tiny_clip(cfg).eval()
    tokenizer = tc.get_tokenizer(cfg)
    ids = tc.vocabulary_token_ids(world.world_vocabulary(), tokenizer)
    tc.restrict_token_table(model, ids)
    record = tc.save_tiny_clip(model, cfg, tmp_path / 'm.safetensors', {'command': 'test'})
    assert record['vocab_rows'] == len(ids)
    loaded, tok2 = tc.load_tiny_clip(tmp_path / 'm.safetensors')
    images = tc.to_tensor(np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), np.uint8))
    text = tok2(['a photo of blue dots on sand.', 'gravel.'])
    with torch.no_grad():
        assert torch.equal(model.encode_image(images), loaded.encode_image(images))
        assert torch.equal(model.encode_text(text), loaded.encode_text(text))
