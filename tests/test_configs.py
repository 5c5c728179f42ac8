"""Every config under configs/ parses, names registered modules, and builds (shrunk)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from dense_clip.engine import TASKS
from tests.conftest import REPO

CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)

# A tiny open_clip architecture that stands in for ViT-B/16 when building configs.
TINY_VIT = dict(embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8,
                                              head_width=16),
                text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))


def shrink(model_cfg: dict) -> dict:
    """Replaces a config's CLIP and proxy models with tiny ones (random weights, no files read)."""
    from dense_clip.models.proxy import shrink_proxies

    model_cfg = copy.deepcopy(model_cfg)
    if 'clip' in model_cfg:
        model_cfg['clip'] = dict(model_cfg=TINY_VIT, pretrained=None)
    return shrink_proxies(model_cfg)  # tiny DINO / SAM proxies and teachers


def registries(scope: str):
    if scope == 'mmseg':
        from mmseg.registry import DATASETS, MODELS, TRANSFORMS
    else:
        from mmdet.registry import DATASETS, MODELS, TRANSFORMS
    return MODELS, DATASETS, TRANSFORMS


def test_there_are_configs():
    assert len(CONFIGS) >= 1


@pytest.mark.parametrize('path', CONFIGS, ids=[str(p.relative_to(REPO)) for p in CONFIGS])
def test_config_builds(path: Path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope in TASKS, cfg.default_scope
    if cfg.default_scope == 'mmseg':  # segmentation configs never pull in mmdet
        assert not any('det' in name for name in cfg.custom_imports['imports'])
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.default_scope)
    models, datasets, transforms = registries(cfg.default_scope)
    model = models.build(shrink(cfg.model))
    assert sum(p.numel() for p in model.parameters()) > 0
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader not in cfg:
            continue
        dataset = cfg[loader]['dataset']
        assert datasets.get(dataset['type']) is not None, dataset['type']
        for step in dataset.get('pipeline', []):
            assert transforms.get(step['type']) is not None, step['type']
