"""Every config under configs/ parses, names registered modules, and builds (shrunk)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from dense_clip.engine import TASKS
from dense_clip.testing import shrink_model_config
from tests.conftest import REPO

CONFIGS = sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)

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
    model = models.build(shrink_model_config(cfg.model))
    assert sum(p.numel() for p in model.parameters()) > 0
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader not in cfg:
            continue
        dataset = cfg[loader]['dataset']
        assert datasets.get(dataset['type']) is not None, dataset['type']
        for step in dataset.get('pipeline', []):
            assert transforms.get(step['type']) is not None, step['type']
