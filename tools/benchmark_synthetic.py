"""Evaluates every method with an embedded configuration on the synthetic benchmark.

    python tools/benchmark_synthetic.py [--out-dir work_dirs/synthetic_benchmark] [--n-val 200]

Writes the synthetic validation set (seeded; seconds), runs each method's config under
configs/synthetic/ (the training-free methods on the embedded CLIP, and CAT-Seg with its shipped
weights, trained on the seen classes) through mmengine's Runner and mmseg's IoUMetric, and writes
results.md and results.csv: mIoU per method, the mean IoU of the seen classes (the background
included) and of the six unseen classes, next to chance (a seeded uniformly random labelling
scored by the same metric) and the all-background labelling, and per method
``OUT_DIR/<method>/<timestamp>/per_class.{csv,png}`` (per-class IoU, seen and unseen classes
coloured apart). Needs no download.
"""

from __future__ import annotations

import argparse
import csv
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs' / 'synthetic' / '{method}_tiny-clip_synthetic.py'
METHODS = ('vanilla', 'maskclip', 'sclip', 'clearclip', 'naclip', 'cliptrase', 'catseg')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='work_dirs/synthetic_benchmark')
    parser.add_argument('--data-root', help='existing synthetic set (default: write a new one)')
    parser.add_argument('--n-val', type=int, default=200, help='validation images to write')
    parser.add_argument('--seed', type=int, default=0, help='seed of the synthetic set')
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    return parser.parse_args()


def miou_of_labelling(data_root: Path, predict, num_classes: int) -> float:
    """mIoU (percent) of ``predict(gt) -> labels`` over the val set, by mmseg's IoUMetric."""
    from mmseg.evaluation import IoUMetric
    from PIL import Image

    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=[str(i) for i in range(num_classes)])
    import torch

    for path in sorted((data_root / 'ann_dir' / 'val').glob('*.png')):
        gt = torch.from_numpy(np.array(Image.open(path))).long()
        sample = dict(pred_sem_seg=dict(data=torch.from_numpy(predict(gt.numpy()))[None]),
                      gt_sem_seg=dict(data=gt[None]))
        metric.process({}, [sample])
    return float(metric.compute_metrics(metric.results)['mIoU'])


def unseen_classes() -> list[str]:
    """Names of the synthetic world's unseen classes (never in training data)."""
    from dense_clip.synthetic import world

    return [c.name for c in world.categories() if not c.seen]


def evaluate(method: str, data_root: Path, work_dir: Path) -> dict[str, float]:
    """Runs one method's config; returns its metrics (percent: mIoU, mIoU_seen, mIoU_unseen,
    IoU.<class>) and ``seconds``."""
    from mmengine.runner import Runner

    from dense_clip.engine import (
        TestOutputs,
        configure_test_outputs,
        load_config,
        setup_checkpoint_loading,
    )

    cfg = load_config(str(CONFIG).format(method=method), work_dir=str(work_dir / method))
    cfg.test_dataloader.dataset.data_root = str(data_root)
    cfg.val_dataloader = cfg.test_dataloader
    cfg.test_evaluator = dict(type='SplitIoUMetric', iou_metrics=['mIoU'],
                              unseen=unseen_classes())
    cfg.log_level = 'WARNING'
    configure_test_outputs(cfg, TestOutputs())  # per-class CSV and chart per method
    setup_checkpoint_loading()
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    start = time.perf_counter()
    metrics = {k: float(v) for k, v in runner.test().items()}
    metrics['seconds'] = time.perf_counter() - start
    return metrics


def evaluate_method(method: str, data_root: Path, work_dir: Path) -> tuple[float, float]:
    """Runs one method's config; returns (mIoU percent, seconds)."""
    metrics = evaluate(method, data_root, work_dir)
    return metrics['mIoU'], metrics['seconds']


def main() -> None:
    args = parse_args()
    from dense_clip.synthetic.dataset import write_dataset
    from dense_clip.utils.progress import track

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_root = Path(args.data_root) if args.data_root else Path(tmp) / 'synthetic'
        if not args.data_root:
            write_dataset(data_root, seed=args.seed, n_train=0, n_val=args.n_val)
        num_classes = len((data_root / 'class_names.txt').read_text().strip().splitlines())
        rng = np.random.default_rng(args.seed)
        rows = [
            ('chance (uniform random labels)', miou_of_labelling(
                data_root, lambda gt: rng.integers(0, num_classes, gt.shape), num_classes),
             '', '', ''),
            ('all background', miou_of_labelling(
                data_root, lambda gt: np.zeros_like(gt), num_classes), '', '', ''),
        ]
        for method in track(args.methods, 'synthetic benchmark', unit='method'):
            m = evaluate(method, data_root, out_dir)
            rows.append((method, m['mIoU'], f"{m['mIoU_seen']:.2f}", f"{m['mIoU_unseen']:.2f}",
                         f"{m['seconds']:.1f}"))
            logging.getLogger(__name__).info('%s: mIoU %.2f', method, m['mIoU'])
    header = ['method', 'mIoU', 'seen mIoU', 'unseen mIoU', 'seconds']
    with open(out_dir / 'results.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([(m, f'{v:.2f}', *rest) for m, v, *rest in rows])
    lines = ['| method | mIoU (%) | seen | unseen | seconds |', '|---|---:|---:|---:|---:|']
    lines += [f'| {m} | {v:.2f} | {a} | {b} | {s} |' for m, v, a, b, s in rows]
    table = '\n'.join(lines) + '\n'
    (out_dir / 'results.md').write_text(table)
    print(table)
    print(f'written: {out_dir / "results.md"}, {out_dir / "results.csv"}')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
