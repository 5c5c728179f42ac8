"""Every config under configs/ that needs weights names them through the zoo."""

from __future__ import annotations

from pathlib import Path

import pytest

from dense_clip.zoo import ZooError, load_index
from dense_clip.zoo.refs import (
    WeightRef,
    cfg_options_for,
    config_weight_refs,
    coverage_problems,
    needed_weights,
)
from tests.conftest import REPO
from tests.zoo.fakes import weight_entry, write_index

CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)


@pytest.mark.parametrize('path', CONFIGS, ids=[str(p.relative_to(REPO)) for p in CONFIGS])
def test_config_weights_are_named_through_the_zoo(path: Path):
    assert coverage_problems(path, load_index(REPO / 'model-index.yml')) == []


def test_the_weight_references_of_each_method(tmp_path):
    index = load_index(REPO / 'model-index.yml')
    proxyclip = REPO / 'configs/proxyclip/proxyclip_vit-b16_voc21.py'
    entries, entry, refs = needed_weights(str(proxyclip), index)
    assert [e.name for e in entries] == ['clip_vit-b16_openai', 'dino_vitb8']
    assert refs == [WeightRef('model.clip.pretrained', 'zoo', 'zoo://clip_vit-b16_openai'),
                    WeightRef('model.encoder.last_block.proxy.checkpoint', 'zoo',
                              'zoo://dino_vitb8')]
    assert cfg_options_for(refs, entry) == []  # the config already names its weights by zoo
    dinoiser = REPO / 'configs/clip_dinoiser/clip_dinoiser_vit-b16_ade150.py'
    assert [e.name for e in needed_weights(str(dinoiser), index)[0]] == [
        'clip_vit-b16_laion2b-s34b-b88k', 'clip_dinoiser_vit-b16']
    assert [e.name for e in needed_weights('sclip_vit-b16_voc21', index)[0]] == [
        'clip_vit-b16_openai']


def test_references_cover_mmengine_keys_and_zoo_names():
    cfg = dict(load_from='zoo://a', model=dict(
        backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='ckpt/x.pth')),
        clip=dict(model_name='ViT-B-16', pretrained='zoo://b'),
        heads=[dict(clip=dict(model_name=None, pretrained='weights/c.pt'))],
        proxy=dict(type='sam_vitb', checkpoint='zoo://d'),
        teacher=dict(type='dino_vitb16', pretrained=True, tiny=True),
        embedded=dict(clip=dict(model_name='dense_clip:tiny-clip-synth'))))
    assert config_weight_refs(cfg) == [
        WeightRef('load_from', 'zoo', 'zoo://a'),
        WeightRef('model.backbone.init_cfg.checkpoint', 'file', 'ckpt/x.pth'),
        WeightRef('model.clip.pretrained', 'zoo', 'zoo://b'),
        WeightRef('model.heads.0.clip.pretrained', 'file', 'weights/c.pt'),
        WeightRef('model.proxy.checkpoint', 'zoo', 'zoo://d')]


def test_uncovered_stale_and_mismatched_mappings_are_reported(tmp_path):
    configs = tmp_path / 'configs' / 'test'
    configs.mkdir(parents=True)
    (configs / 'a.py').write_text(
        "model = dict(clip=dict(model_name='ViT-B-16', pretrained='openai'),\n"
        "             head=dict(checkpoint='checkpoints/last.pt'))\n")
    (configs / 'b.py').write_text("model = dict(clip=dict(model_name='ViT-B-16', "
                                  "pretrained='zoo://nowhere'))\n")
    (configs / 'none.py').write_text("model = dict(clip=dict(model_name="
                                     "'dense_clip:tiny-clip-synth'))\n")
    (configs / 'c.py').write_text("model = dict(clip=dict(model_name='ViT-B-16', "
                                  "pretrained='zoo://clip_b16'))\n")
    clip = weight_entry('clip_b16', 'https://e.com/ViT-B-16.pt',
                        **{'Open CLIP': 'ViT-B-16/laion2b_s34b_b88k'})
    config = {'Name': 'a', 'In Collection': 'Test', 'Config': 'configs/test/a.py',
              'Metadata': {'Zoo Weights': {'model.clip.pretrained': 'clip_b16',
                                           'model.stale': 'clip_b16'}}}
    switched = {'Name': 'c', 'In Collection': 'Test', 'Config': 'configs/test/c.py',
                'Metadata': {'Zoo Weights': {'model.clip.pretrained': 'other'}}}
    other = weight_entry('other', 'https://e.com/other.pt')
    index = load_index(write_index(tmp_path, [clip, other], [config, switched]))
    problems = coverage_problems(configs / 'a.py', index)
    assert problems == [
        "configs/test/a.py: model.clip.pretrained = 'ViT-B-16/openai' is mapped to 'clip_b16', "
        'which is other weights',
        "configs/test/a.py: model.head.checkpoint = 'checkpoints/last.pt' is not mapped to a "
        'zoo name (add the config to its metafile with Zoo Weights)',
        'configs/test/a.py: Zoo Weights maps model.stale, which the config does not set']
    assert coverage_problems(configs / 'b.py', index) == [
        "configs/test/b.py: model.clip.pretrained = 'zoo://nowhere' is not a weight entry"]
    assert coverage_problems(configs / 'none.py', index) == []
    assert coverage_problems(configs / 'c.py', index) == [
        "configs/test/c.py: model.clip.pretrained = 'zoo://clip_b16' but Zoo Weights maps it "
        "to 'other'"]
    with pytest.raises(ZooError, match='names no weights'):
        needed_weights(str(configs / 'none.py'), index)
    with pytest.raises(ZooError, match=r"not in the zoo: .*head.checkpoint = 'checkpoints/"):
        needed_weights(str(configs / 'a.py'), index)
