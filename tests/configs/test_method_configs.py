"""Every ProxyCLIP / CLIP-DINOiser config parses and builds with a tiny CLIP and tiny proxies."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from dense_clip.engine import apply_dataset_vocabulary
from dense_clip.testing import shrink_model_config
from tests.conftest import REPO

BENCHMARKS = ['voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff171',
              'cityscapes', 'ade150', 'ade847', 'context459']
CONFIGS = sorted([*(REPO / 'configs' / 'proxyclip').glob('*.py'),
                  *(REPO / 'configs' / 'clip_dinoiser').glob('*.py')])


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

    apply_dataset_vocabulary(cfg)
    model_cfg = shrink_model_config(cfg.model)
    model_cfg.text.update(cache_dir=False, templates='single')  # cheap text for the forward
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
        assert type(model.head).__name__ == 'DINOiserHead'
        assert model.head.apply_background == any(b in name for b in ('voc21', 'coco_object'))
        assert model.crop_size == (448, 448) and model.stride == (224, 224)
        scale = next(t.scale for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize')
        assert scale == (2048, 448)
    if name.endswith(('voc21.py', 'synthetic-train.py')):  # one forward each, cheap
        model.mode = 'whole'
        with torch.no_grad():
            out = model.predict(torch.randn(1, 3, 32, 32))
        assert out[0].pred_sem_seg.data.shape == (1, 32, 32)
