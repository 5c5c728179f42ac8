"""Every detection config runs through tools/train.py and tools/test.py (their main functions) on
tiny synthetic data with a tiny random CLIP: 2 training iterations, then one evaluation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from dense_clip.testing import tiny_resnet_config
from dense_clip.testing.detection import tiny_det_config, write_tiny_det_data
from tests.conftest import REPO, load_tool


def _is_det_config(path: Path) -> bool:
    """A config of the detection package (SAM's mmdet configs have their own tests)."""
    cfg = Config.fromfile(path)
    imports = cfg.get('custom_imports', {}).get('imports', [])
    return cfg.get('default_scope') == 'mmdet' and 'dense_clip.det' in imports


DET_CONFIGS = sorted(
    p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts and _is_det_config(p))


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_det_data(tmp_path_factory.mktemp('tiny_det'))


def run(tool: str, argv: list[str], monkeypatch):
    module = load_tool(tool)
    monkeypatch.setattr(sys, 'argv', [tool, *argv])
    return module.main()


def test_there_are_detection_configs():
    names = {p.name for p in DET_CONFIGS}
    assert {'fvit_vit-b16_3e_ov-coco.py', 'regionclip_rn50_zeroshot-gt_ov-coco.py',
            'clipself_vit-b16_6e_coco-patches.py'} <= names


def run_config(path: Path, tiny_data: Path, tmp_path: Path, monkeypatch, clip_cfg=None):
    cfg = tiny_det_config(Config.fromfile(path), tiny_data, tmp_path / 'work', clip_cfg)
    config = tmp_path / path.name
    cfg.dump(config)
    checkpoint = []
    if cfg.get('train_dataloader'):
        run('train.py', [str(config), '--work-dir', str(tmp_path / 'work')], monkeypatch)
        checkpoint = [str(tmp_path / 'work' / 'iter_2.pth')]
        assert Path(checkpoint[0]).is_file()
    else:
        with pytest.raises(ValueError, match='training-free'):
            run('train.py', [str(config), '--work-dir', str(tmp_path / 'work')], monkeypatch)
    if cfg.get('test_dataloader') is None:
        return None
    return run('test.py', [str(config), *checkpoint, '--work-dir', str(tmp_path / 'test')],
               monkeypatch)


# The OV-LVIS F-ViT (mask head, 1203 -> 24 classes) takes ~25 s on 2 shared cores.
SLOW = {'fvit_vit-b16_4x_ov-lvis.py'}
CASES = [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p for p in DET_CONFIGS]


@pytest.mark.parametrize('path', CASES, ids=[p.name for p in DET_CONFIGS])
def test_config_trains_two_iterations_and_tests(path, tiny_data, tmp_path, monkeypatch):
    metrics = run_config(path, tiny_data, tmp_path, monkeypatch)
    if metrics is None:  # training only (CLIPSelf)
        assert (tmp_path / 'work' / 'clipself_student.pt').is_file()
    elif 'lvis' in path.name:  # rare = novel, box (and mask) AP
        assert {'lvis/bbox_APr', 'lvis/bbox_AP', 'lvis/bbox_novel_ap'} <= set(metrics)
        assert 'lvis/segm_APr' in metrics or 'regionclip' in path.name
    else:
        assert {'coco/novel_ap50', 'coco/base_ap50', 'coco/all_ap50'} <= set(metrics)
        assert -1 <= metrics['coco/novel_ap50'] <= 1.0


@pytest.mark.parametrize('name', ['regionclip_rn50_zeroshot-gt_ov-coco.py',
                                  'regionclip_rn50_zeroshot-proposals_ov-coco.py'])
def test_regionclip_configs_with_a_resnet_clip(name, tiny_data, tmp_path, monkeypatch):
    path = REPO / 'configs' / 'regionclip' / name
    metrics = run_config(path, tiny_data, tmp_path, monkeypatch,
                         clip_cfg=tiny_resnet_config(image_size=64))
    assert set(metrics) >= {'coco/base_ap50', 'coco/novel_ap50', 'coco/all_ap50'}
