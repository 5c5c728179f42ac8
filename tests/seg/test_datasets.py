"""Benchmark datasets: tiny copies in each benchmark's real layout load through its base config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, METRICS, TRANSFORMS

from dense_clip.registry import SEG_DATASETS
from dense_clip.seg.datasets import (
    ADE20K847Dataset,
    COCOObjectDataset,
    PascalContext459Dataset,
    PascalVOC20Dataset,
)
from dense_clip.testing.datasets import BENCHMARKS, expected_gt_sem_seg, write_benchmark_dataset
from tests.conftest import REPO

CONFIG_DIR = REPO / 'configs' / '_base_' / 'datasets'
SHORT_SIDE = {'coco_stuff171': 448, 'cityscapes': 560}  # all others 336
NAMES = sorted(BENCHMARKS)


@pytest.fixture(autouse=True)
def mmseg_scope() -> None:
    init_default_scope('mmseg')


def load_config(name: str) -> Config:
    return Config.fromfile(str(CONFIG_DIR / f'ov_{name}.py'))


def build_dataset(name: str, data_root: Path):
    cfg = load_config(name)
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg.data_root = str(data_root)
    return cfg, DATASETS.build(dataset_cfg)


@pytest.mark.parametrize('name', NAMES)
def test_config_follows_protocol(name: str) -> None:
    cfg = load_config(name)
    assert cfg.classnames == name
    assert cfg.num_classes == BENCHMARKS[name].num_classes
    assert cfg.data_root == 'data/' + BENCHMARKS[name].data_root
    assert cfg.val_dataloader == cfg.test_dataloader and cfg.val_evaluator == cfg.test_evaluator
    assert cfg.test_dataloader.batch_size == 1
    assert cfg.test_dataloader.sampler == dict(type='DefaultSampler', shuffle=False)
    types = [step['type'] for step in cfg.test_pipeline]
    assert types[0] == 'LoadImageChecked' and types[-1] == 'PackSegInputs'
    assert types.index('Resize') < next(i for i, t in enumerate(types) if 'Annotations' in t)
    resize = cfg.test_pipeline[types.index('Resize')]
    assert resize['scale'] == (2048, SHORT_SIDE.get(name, 336)) and resize['keep_ratio']
    assert cfg.test_evaluator['type'] == 'IoUMetric'
    assert cfg.test_evaluator.get('ignore_index', 255) == BENCHMARKS[name].ignore_index


@pytest.mark.parametrize('name', NAMES)
def test_benchmark_loads_expected_labels(name: str, tmp_path: Path) -> None:
    data_root = write_benchmark_dataset(name, tmp_path)
    cfg, dataset = build_dataset(name, data_root)
    assert len(dataset.metainfo['classes']) == cfg.num_classes
    assert len(dataset.metainfo['palette']) == cfg.num_classes
    expected = expected_gt_sem_seg(name)
    assert len(dataset) == len(expected)  # extra VOC2010 images outside the split are skipped
    for index in range(len(dataset)):
        item = dataset[index]
        sample = item['data_samples']
        gt = sample.gt_sem_seg.data
        assert gt.shape == (1, 40, 56) and gt.dtype == torch.int64
        np.testing.assert_array_equal(gt[0].numpy(), expected[Path(sample.img_path).name])
        assert min(item['inputs'].shape[1:]) == SHORT_SIDE.get(name, 336)


@pytest.mark.parametrize('name', NAMES)
def test_evaluator_skips_ignored_pixels(name: str, tmp_path: Path) -> None:
    cfg, dataset = build_dataset(name, write_benchmark_dataset(name, tmp_path))
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dataset.metainfo
    ignore = BENCHMARKS[name].ignore_index
    for index in range(len(dataset)):
        gt = dataset[index]['data_samples'].gt_sem_seg.data
        pred = gt.clone()
        pred[gt == ignore] = 0  # wrong on ignored pixels only: must not count
        assert ((gt >= 0) & (gt < cfg.num_classes) | (gt == ignore)).all()
        metric.process({}, [dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))])
    assert metric.compute_metrics(metric.results)['mIoU'] == 100.0


@pytest.mark.parametrize('name', ['ade847', 'context459'])
def test_uint16_labels_keep_values_above_255(name: str) -> None:
    values = set(np.unique(np.concatenate([m.ravel() for m in expected_gt_sem_seg(name).values()])))
    assert {255, 256, 65535} <= values  # 255 is a class here, 65535 the ignore value


def test_dataset_types_and_class_lists() -> None:
    for cls in (PascalVOC20Dataset, COCOObjectDataset, PascalContext459Dataset, ADE20K847Dataset):
        assert SEG_DATASETS.get(cls.__name__) is cls
    assert TRANSFORMS.get('LoadUInt16Annotations') is not None
    voc20 = PascalVOC20Dataset.METAINFO['classes']
    assert len(voc20) == 20 and voc20[0] == 'aeroplane' and voc20[-1] == 'tvmonitor'
    coco = COCOObjectDataset.METAINFO['classes']
    assert len(coco) == 81 and coco[:2] == ('background', 'person') and coco[-1] == 'toothbrush'
    pc459 = PascalContext459Dataset.METAINFO['classes']
    assert len(set(pc459)) == 459 and pc459[0] == 'accordion' and pc459[-1] == 'wool'
    ade = ADE20K847Dataset.METAINFO['classes']
    assert len(set(ade)) == 847 and ade[0] == 'wall' and ade[-1].startswith('adding machine')


def test_uint16_class_subset_maps_dropped_classes_to_ignore(tmp_path: Path) -> None:
    data_root = write_benchmark_dataset('context459', tmp_path)
    classes = PascalContext459Dataset.METAINFO['classes']
    subset = (classes[256], classes[0])
    cfg = load_config('context459').test_dataloader.dataset.copy()
    cfg.update(data_root=str(data_root), metainfo=dict(classes=subset))
    dataset = DATASETS.build(cfg)
    assert dataset.metainfo['classes'] == subset and len(dataset.metainfo['palette']) == 2
    gt = dataset[0]['data_samples'].gt_sem_seg.data
    raw = expected_gt_sem_seg('context459')['2008_000000.jpg']
    expected = np.full_like(raw, 65535)
    expected[raw == 256], expected[raw == 0] = 0, 1
    np.testing.assert_array_equal(gt[0].numpy(), expected)


def test_load_uint16_annotations_reduce_zero_label(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / 'label.tif'
    Image.fromarray(np.array([[0, 1, 300, 65535]], np.uint16)).save(path, format='TIFF')
    load = TRANSFORMS.build(dict(type='LoadUInt16Annotations'))  # setting from the dataset
    results = load(dict(seg_map_path=str(path), seg_fields=[], reduce_zero_label=True))
    assert results['gt_seg_map'].tolist() == [[65535, 0, 299, 65535]]
