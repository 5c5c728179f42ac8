"""tools/test.py --show-dir / --out / per-class results, on the embedded CLIP and synthetic data."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dense_clip.synthetic import world
from dense_clip.synthetic.dataset import write_dataset
from tests.conftest import REPO

CONFIG = REPO / 'configs' / 'synthetic' / 'maskclip_tiny-clip_synthetic.py'
NUM_VAL = 4


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('synthetic')
    write_dataset(root, seed=3, n_train=0, n_val=NUM_VAL)
    return root


@pytest.fixture(scope='module')
def seg_run(synthetic_root, tmp_path_factory, tool_env):
    """One tools/test.py run with --show-dir and --out; returns (work_dir, completed process)."""
    work = tmp_path_factory.mktemp('seg_run')
    env = dict(tool_env, HF_HUB_OFFLINE='1')
    result = subprocess.run(
        [sys.executable, 'tools/test.py', str(CONFIG), '--work-dir', str(work),
         '--show-dir', str(work / 'show'), '--out', str(work / 'preds'),
         '--cfg-options', f'test_dataloader.dataset.data_root={synthetic_root}'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return work, result


def run_dir(work: Path) -> Path:
    (stamp,) = [p for p in work.iterdir() if re.fullmatch(r'\d{8}_\d{6}', p.name)]
    return stamp


def test_show_dir_has_image_prediction_and_ground_truth_per_image(seg_run, synthetic_root):
    work, _ = seg_run
    pictures = sorted((work / 'show').glob('*.png'))
    assert [p.name for p in pictures] == [f'{i:05d}.png' for i in range(NUM_VAL)]
    image = np.asarray(Image.open(synthetic_root / 'img_dir' / 'val' / '00002.png').convert('RGB'))
    sheet = np.asarray(Image.open(work / 'show' / '00002.png').convert('RGB'))
    scale = 256 // image.shape[1]  # 64 px panels are upscaled (nearest) to 256
    panel = image.repeat(scale, 0).repeat(scale, 1)
    top = 18  # title band
    assert np.array_equal(sheet[top:top + panel.shape[0], :panel.shape[1]], panel)
    assert sheet.shape[1] > 3 * panel.shape[1]  # image | prediction | ground truth | legend
    gt = np.asarray(Image.open(synthetic_root / 'ann_dir' / 'val' / '00002.png'))
    x_gt = 2 * (panel.shape[1] + 4)
    gt_panel = sheet[top:top + panel.shape[0], x_gt:x_gt + panel.shape[1]].astype(int)
    background = gt.repeat(scale, 0).repeat(scale, 1) == 0
    # ground-truth panel: the image blended with one colour over all background pixels
    tint = gt_panel[background] - 0.45 * panel[background]
    assert np.ptp(tint, axis=0).max() <= 2


def test_out_dumps_label_maps_that_score_as_the_csv_says(seg_run, synthetic_root):
    work, result = seg_run
    num_classes = len(world.categories()) + 1
    inter, union = np.zeros(num_classes), np.zeros(num_classes)
    for gt_path in sorted((synthetic_root / 'ann_dir' / 'val').glob('*.png')):
        pred = np.asarray(Image.open(work / 'preds' / gt_path.name))
        gt = np.asarray(Image.open(gt_path))
        assert pred.shape == gt.shape and pred.dtype == np.uint8
        for c in range(num_classes):
            inter[c] += np.sum((pred == c) & (gt == c))
            union[c] += np.sum((pred == c) | (gt == c))
    rows = list(csv.DictReader(open(run_dir(work) / 'per_class.csv')))
    assert len(rows) == num_classes
    by_name = {row['class']: row for row in rows}
    names = ['background', *(c.name for c in world.categories())]
    ious = []
    for c, name in enumerate(names):
        expected = '' if union[c] == 0 else f'{100 * inter[c] / union[c]:.2f}'
        assert by_name[name]['IoU'] == expected, name
        ious.append(100 * inter[c] / union[c] if union[c] else np.nan)
    reported = float(re.search(r'mIoU: ([\d.]+)', result.stdout + result.stderr).group(1))
    assert abs(np.nanmean(ious) - reported) < 0.01
    scores = [float(row['IoU']) for row in rows if row['IoU']]
    assert scores == sorted(scores, reverse=True)


def test_per_class_split_table_and_chart(seg_run):
    work, result = seg_run
    rows = list(csv.DictReader(open(run_dir(work) / 'per_class.csv')))
    unseen = {c.name for c in world.categories() if not c.seen}
    assert {r['class'] for r in rows if r['split'] == 'unseen'} == unseen
    assert {r['split'] for r in rows} == {'seen', 'unseen'}
    log = (run_dir(work) / f'{run_dir(work).name}.log').read_text()
    summary = re.search(r'per-class IoU \(mIoU [\d.]+, seen ([\d.]+), unseen ([\d.]+), '
                        r'hIoU ([\d.]+)\)', log)
    assert summary, log[-3000:]
    seen, unseen_mean, harmonic = map(float, summary.groups())
    assert abs(harmonic - 2 * seen * unseen_mean / (seen + unseen_mean)) < 0.01
    for row in rows[:3]:
        assert row['class'] in log
    chart = Image.open(run_dir(work) / 'per_class.png')
    assert chart.width >= 600 and chart.height >= 25 * 15
    pixels = np.asarray(chart.convert('RGB')).reshape(-1, 3)
    for colour in ('#3b6fb6', '#e07b39'):  # seen and unseen bars
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(1) == 0).sum() > 100, colour


def test_show_without_a_display_is_one_line_error(tool_env, tmp_path):
    env = {k: v for k, v in tool_env.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    result = subprocess.run([sys.executable, 'tools/test.py', str(CONFIG), '--show',
                             '--work-dir', str(tmp_path)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:') and '--show needs a display' in last


def test_det_out_must_be_a_pickle():
    from mmengine.config import Config

    from dense_clip.engine import TestOutputs, configure_test_outputs

    cfg = Config(dict(default_scope='mmdet', test_evaluator=dict(type='CocoMetric')))
    with pytest.raises(ValueError, match='ending in .pkl'):
        configure_test_outputs(cfg, TestOutputs(out='preds'))
    configure_test_outputs(cfg, TestOutputs(out='preds.pkl', show_dir='show'))
    assert [e['type'] for e in cfg.test_evaluator] == ['CocoMetric', 'DumpDetResults']
    assert cfg.default_hooks.visualization.type == 'DetVisualizationHook'
    assert cfg.custom_hooks == [dict(type='PerClassResultsHook')]


def test_unknown_scope_lists_valid_ones():
    from mmengine.config import Config

    from dense_clip.engine import TestOutputs, configure_test_outputs

    with pytest.raises(ValueError, match='mmdet, mmseg'):
        configure_test_outputs(Config(dict(default_scope='mmpretrain')), TestOutputs())


def test_uint16_dump_for_large_vocabularies(tmp_path):
    import torch

    from dense_clip.seg.evaluation import SegPredictionDump

    dump = SegPredictionDump(str(tmp_path))
    dump.dataset_meta = dict(classes=[str(i) for i in range(847)])
    labels = torch.tensor([[[0, 300], [846, 5]]])
    dump.process({}, [dict(pred_sem_seg=dict(data=labels), img_path='/x/ADE_val_1.jpg')])
    written = np.asarray(Image.open(tmp_path / 'ADE_val_1.png'))
    assert written.dtype == np.uint16 and written.tolist() == [[0, 300], [846, 5]]
    assert json.dumps(dump.compute_metrics(dump.results)) == '{}'


def write_tiny_det_config(path: Path, data_root: Path) -> Path:
    """A tiny random-weight mmdet RetinaNet on the synthetic COCO set (mmdet's own modules)."""
    classes = tuple(c.name for c in world.categories())
    unseen = tuple(c.name for c in world.categories() if not c.seen)
    path.write_text(f"""
default_scope = 'mmdet'
model = dict(
    type='RetinaNet',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.7, 116.3, 103.5],
                           std=[58.4, 57.1, 57.4], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3),
                  norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True),
    neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=16, start_level=0,
              add_extra_convs='on_input', num_outs=3),
    bbox_head=dict(type='RetinaHead', num_classes={len(classes)}, in_channels=16,
                   stacked_convs=1, feat_channels=16,
                   anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                         scales_per_octave=1, ratios=[1.0],
                                         strides=[8, 16, 32]),
                   bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                                   target_stds=[1.0, 1.0, 1.0, 1.0]),
                   loss_cls=dict(type='FocalLoss', use_sigmoid=True, loss_weight=1.0),
                   loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.0,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=20))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='Resize', scale=(64, 64), keep_ratio=True),
                 dict(type='LoadAnnotations', with_bbox=True),
                 dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                                       'img_shape', 'scale_factor'))]
test_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoDataset', data_root='{data_root}',
                 metainfo=dict(classes={classes}, unseen_classes={unseen}),
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='img_dir/val/'),
                 test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type='CocoMetric', ann_file='{data_root}/annotations/instances_val.json',
                      metric='bbox')
test_cfg = dict(type='TestLoop')
visualizer = dict(type='DetLocalVisualizer', name='visualizer',
                  vis_backends=[dict(type='LocalVisBackend')])
""")
    return path


def test_detection_show_dir_out_and_per_class_ap(synthetic_root, tmp_path, tool_env):
    config = write_tiny_det_config(tmp_path / 'retinanet_tiny_synthetic.py', synthetic_root)
    result = subprocess.run(
        [sys.executable, 'tools/test.py', str(config), '--work-dir', str(tmp_path / 'work'),
         '--show-dir', str(tmp_path / 'show'), '--out', str(tmp_path / 'preds.pkl')],
        cwd=REPO, env=tool_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    pictures = sorted(p.name for p in (tmp_path / 'show').iterdir())
    assert pictures == [f'{i:05d}.png' for i in range(NUM_VAL)]
    sheet = Image.open(tmp_path / 'show' / '00000.png')
    assert sheet.size == (2 * 64, 64)  # mmdet's visualizer: ground truth | prediction
    import pickle

    predictions = pickle.loads((tmp_path / 'preds.pkl').read_bytes())
    assert len(predictions) == NUM_VAL and 'pred_instances' in predictions[0]
    rows = list(csv.DictReader(open(run_dir(tmp_path / 'work') / 'per_class_coco.csv')))
    assert len(rows) == len(world.categories()) and set(rows[0]) >= {'class', 'AP', 'split'}
    assert {r['split'] for r in rows} == {'seen', 'unseen'}
    assert (run_dir(tmp_path / 'work') / 'per_class_coco.png').is_file()
