"""tools/test.py runs the SAM detection-side configs (COCO and LVIS instance segmentation, COCO
panoptic) on tiny copies of the data sets in their real formats, with tiny random CLIP and SAM,
through mmdet's own datasets and metrics."""

from __future__ import annotations

import sys

import pytest

from dense_clip.testing import TINY_VIT_CFG as TINY_VIT
from tests.conftest import REPO, load_tool
from tests.sam_det.datasets import write_coco_instances, write_coco_panoptic

TINY_GENERATOR = dict(type='SAMAutomaticMasks', sam=dict(tiny=True), points_per_side=4,
                      pred_iou_thresh=0.0, stability_score_thresh=0.0)


def _run(config: str, data_root, tmp_path, monkeypatch, extra: str = '') -> dict:
    tiny = tmp_path / 'tiny.py'
    tiny.write_text(
        f"_base_ = ['{REPO / 'configs' / 'sam' / config}']\n"
        f'model = dict(clip=dict(_delete_=True, model_cfg={TINY_VIT!r}),\n'
        f"             text=dict(templates='single', cache_dir=False),\n"
        f'             generator={TINY_GENERATOR!r}{extra})\n')
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', str(tiny), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={data_root}/', 'test_dataloader.num_workers=0',
        f'test_evaluator.ann_file={data_root}/{_ann_file(config)}',
        *([f'test_evaluator.seg_prefix={data_root}/annotations/panoptic_val2017/']
          if 'panoptic' in config else []),
        f'experiment_name={config.removesuffix(".py")}'])
    return load_tool('test.py').main()


def _ann_file(config: str) -> str:
    if 'lvis' in config:
        return 'annotations/lvis_v1_val.json'
    if 'panoptic' in config:
        return 'annotations/panoptic_val2017.json'
    return 'annotations/instances_val2017.json'


def test_coco_instance_config(tmp_path, monkeypatch, capsys):
    from mmdet.datasets import CocoDataset

    root = tmp_path / 'coco'
    write_coco_instances(root, CocoDataset.METAINFO['classes'])
    metrics = _run('sam-maskclip_vit-b16_coco-instance.py', root, tmp_path, monkeypatch)
    assert 0.0 <= metrics['coco/segm_mAP'] <= 1.0 and 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    assert 'segm_mAP' in capsys.readouterr().out


def test_lvis_instance_config(tmp_path, monkeypatch):
    from mmdet.datasets import LVISV1Dataset

    root = tmp_path / 'lvis'
    write_coco_instances(root, LVISV1Dataset.METAINFO['classes'], lvis=True)
    metrics = _run('sam-maskclip_vit-b16_lvis-instance.py', root, tmp_path, monkeypatch)
    assert 0.0 <= metrics['lvis/segm_AP'] <= 1.0 or metrics['lvis/segm_AP'] == -1
    assert 'lvis/segm_APr' in metrics and 'lvis/bbox_AP' in metrics


def test_coco_panoptic_config(tmp_path, monkeypatch):
    from mmdet.datasets import CocoPanopticDataset

    meta = CocoPanopticDataset.METAINFO
    root = tmp_path / 'coco'
    write_coco_panoptic(root, meta['thing_classes'], meta['stuff_classes'])
    metrics = _run('sam-maskclip_vit-b16_coco-panoptic.py', root, tmp_path, monkeypatch,
                   extra=', stuff_area_limit=16')
    assert 0.0 <= metrics['coco_panoptic/PQ'] <= 100.0
    assert {'coco_panoptic/PQ_th', 'coco_panoptic/PQ_st'} <= set(metrics)


@pytest.mark.parametrize('config', ['sam-maskclip_vit-b16_coco-instance.py',
                                    'sam-maskclip_vit-b16_lvis-instance.py',
                                    'sam-maskclip_vit-b16_coco-panoptic.py'])
def test_detection_configs_never_import_mmseg(config):
    from mmengine.config import Config

    cfg = Config.fromfile(REPO / 'configs' / 'sam' / config)
    assert cfg.default_scope == 'mmdet'
    assert cfg.custom_imports['imports'] == ['dense_clip.sam_det']
    assert cfg.model.generator.sam.checkpoint == 'zoo://sam_vit_b'


def test_the_detection_side_loads_without_mmseg():
    import subprocess

    code = ("import sys\n"
            "sys.modules['mmseg'] = None  # any 'import mmseg' now fails\n"
            "import dense_clip.sam_det\n"
            "from mmdet.registry import METRICS, MODELS\n"
            "assert MODELS.get('SAMPanopticSegmentor') is not None\n"
            "assert METRICS.get('LVISMetricNumpy2') is not None\n")
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_lvis_numpy_alias_is_temporary():
    import numpy as np

    from dense_clip.sam_det import numpy_float_alias

    had = 'float' in np.__dict__
    with numpy_float_alias():
        assert np.float is float
    assert ('float' in np.__dict__) == had


def test_synthetic_instance_config_with_ground_truth_masks(tmp_path, monkeypatch):
    # The classification half on the synthetic world through tools/test.py and mmdet's COCO
    # metric: the embedded CLIP classifies the annotated masks (no download). 200 images give
    # mask AP 0.748 (README); 20 images must clear a floor well above chance.
    from dense_clip.synthetic.dataset import write_dataset

    root = tmp_path / 'synthetic'
    write_dataset(root, seed=0, n_train=0, n_val=20)
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', str(REPO / 'configs/sam/sam-maskclip_tiny-clip_synthetic-instance.py'),
        '--work-dir', str(tmp_path / 'work'), '--cfg-options', 'model.generator=ground_truth',
        f'test_dataloader.dataset.data_root={root}/',
        f'test_evaluator.ann_file={root}/annotations/instances_val.json',
        'model.text.cache_dir=False', 'experiment_name=synthetic_instance'])
    metrics = load_tool('test.py').main()
    assert metrics['coco/segm_mAP'] > 0.4
    assert metrics['coco/segm_mAP'] == metrics['coco/bbox_mAP']  # exact masks and boxes
