"""Every ProxyCLIP / CLIP-DINOiser config parses and builds with a tiny CLIP and tiny proxies."""

from __future__ import annotations

import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from dense_clip.models.proxy import shrink_proxies
from tests.conftest import REPO

BENCHMARKS = ['voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff171',
              'cityscapes', 'ade150', 'ade847', 'context459']
CONFIGS = sorted([*(REPO / 'configs' / 'proxyclip').glob('*.py'),
                  *(REPO / 'configs' / 'clip_dinoiser').glob('*.py')])
TINY = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8,
                                          head_width=16),
            text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))


def test_one_config_per_benchmark_and_method():
    names = {p.name for p in CONFIGS}
    for bench in BENCHMARKS:
        assert f'proxyclip_vit-b16_{bench}.py' in names
        assert f'clip_dinoiser_vit-b16_{bench}.py' in names
    assert 'clip_dinoiser_tiny-clip_synthetic-train.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_builds_shrunk_and_runs(path):
    cfg = Config.fromfile(path)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    from mmseg.registry import MODELS

    model_cfg = shrink_proxies(copy.deepcopy(cfg.model))
    model_cfg['clip'] = dict(model_cfg=TINY, pretrained=None)
    model_cfg.update(text_cache_dir=False, templates='single')  # cheap text for the forward
    model = MODELS.build(model_cfg)
    name = path.name
    if name.startswith('proxyclip'):
        assert type(model.encoder.last_block).__name__ == 'ProxyCLIP'
        assert model.crop_size == ((224, 224) if 'cityscapes' in name else (336, 336))
        pipeline = cfg.test_dataloader.dataset.pipeline
        scale = next(t.scale for t in pipeline if t.type == 'Resize')
        assert scale == (2048, 448 if any(b in name for b in ('ade', 'context459', 'city'))
                         else 336)
    elif 'synthetic' not in name:
        assert type(model).__name__ == 'CLIPDINOiserSegmentor'
        assert model.apply_background == any(b in name for b in ('voc21', 'coco_object'))
        assert model.crop_size == (448, 448) and model.stride == (224, 224)
        scale = next(t.scale for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize')
        assert scale == (2048, 448)
    if name.endswith(('voc21.py', 'synthetic-train.py')):  # one forward each, cheap
        model.mode = 'whole'
        with torch.no_grad():
            out = model.predict(torch.randn(1, 3, 32, 32))
        assert out[0].pred_sem_seg.data.shape == (1, 32, 32)
