"""Speed and memory of CAT-Seg (ViT-B/16, random weights) on CPU, by vocabulary size.

    python tools/benchmark_catseg.py [--modes train infer] [--classes 10 171 847] [--batch 1]
        [--threads 1] [--repeats 2] [--config configs/catseg/catseg_vit-b16_ade150.py]
        [--max-gb 0] [--out-dir work_dirs/catseg_benchmark]

Each measurement runs in its own process (so its peak resident memory is its own):

* ``train``: one optimiser step of the training recipe (384x384 crops, AdamW with the config's
  parameter groups, q/v fine-tuning of both CLIP towers, the text tower re-encoding the vocabulary
  with autograd, the BCE loss) on a batch of random images and labels; seconds per step (median
  of ``--repeats`` after one warm-up step) and the process's peak RSS;
* ``infer``: the authors' evaluation on one image with a short side of 640 (640x853): the 640x640
  resize, 4 windows of 384 and the global view, sigmoid averaging, resize back; the text
  embeddings are computed once beforehand (the segmentor caches them) and timed separately.

Vocabularies are synthetic names (``class 0``, ...); 847 classes go through the top-256 path.
Writes results.md and results.csv. No weights are downloaded.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from dense_clip.utils.cli import run_cli  # noqa: E402

CONFIG = REPO / 'configs' / 'catseg' / 'catseg_vit-b16_ade150.py'
TRAIN_BASE = REPO / 'configs' / 'catseg' / '_base_' / 'catseg_train_coco-stuff171-384.py'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--modes', nargs='+', default=['train', 'infer'], choices=['train', 'infer'])
    p.add_argument('--classes', nargs='+', type=int, default=[10, 171, 847])
    p.add_argument('--batch', type=int, default=1, help='training batch (the authors: 4)')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--repeats', type=int, default=2, help='timed repeats after one warm-up')
    p.add_argument('--config', default=str(CONFIG), help='CAT-Seg config (random CLIP weights)')
    p.add_argument('--out-dir', default='work_dirs/catseg_benchmark')
    p.add_argument('--max-gb', type=float, default=0.0,
                   help='cap each measurement process at this much virtual memory (0: none); a '
                   'measurement that needs more is reported as failed instead of swapping a '
                   'shared machine')
    p.add_argument('--one', help=argparse.SUPPRESS)  # internal: run one measurement (JSON)
    return p.parse_args(argv)


def build(config: str, num_classes: int):
    """The config's segmentor with a random-weight CLIP and ``num_classes`` synthetic names."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings

    cfg = Config.fromfile(config)
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope('mmseg')
    from mmseg.registry import MODELS

    model_cfg = cfg.model
    model_cfg.clip.pretrained = None  # random weights: nothing to download
    model_cfg.weights = None
    model_cfg.text.vocabulary = [f'class {i}' for i in range(num_classes)]
    model_cfg.text.train_vocabulary = None
    return MODELS.build(model_cfg)


def measure_train(args: argparse.Namespace, num_classes: int) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    model = build(args.config, num_classes).train()
    optim = build_optim_wrapper(model, Config.fromfile(str(TRAIN_BASE)).optim_wrapper)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch, 3, 384, 384, generator=g)
    samples = []
    for _ in range(args.batch):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, 384, 384),
                                                         generator=g))
        samples.append(sample)
    times = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        optim.update_params(model.loss(images, samples)['loss_sem_seg'])
        times.append(time.perf_counter() - start)
    return {'seconds': statistics.median(times[1:]), 'warmup_s': times[0]}


def measure_infer(args: argparse.Namespace, num_classes: int) -> dict:
    import torch
    from mmseg.structures import SegDataSample

    model = build(args.config, num_classes).eval()
    start = time.perf_counter()
    with torch.no_grad():
        model.text_embeddings(model.vocabulary_of({}))
    text_s = time.perf_counter() - start
    image = torch.randn(1, 3, 640, 853, generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(args.repeats + 1):
        sample = SegDataSample(metainfo=dict(img_shape=(640, 853), ori_shape=(640, 853)))
        start = time.perf_counter()
        model.predict(image, [sample])
        times.append(time.perf_counter() - start)
    return {'seconds': statistics.median(times[1:]), 'warmup_s': times[0], 'text_s': text_s}


def run_one(args: argparse.Namespace) -> None:
    if args.max_gb > 0:
        limit = int(args.max_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import torch

    torch.set_num_threads(args.threads)
    mode, num_classes = args.one.split(':')
    measure = {'train': measure_train, 'infer': measure_infer}[mode]
    result = measure(args, int(num_classes))
    result['peak_rss_gb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print('RESULT ' + json.dumps(result), flush=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.one:
        run_one(args)
        return
    if not Path(args.config).is_file():
        raise FileNotFoundError(f'config file not found: {args.config}')
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for mode in args.modes:
        for num_classes in args.classes:
            cmd = [sys.executable, __file__, '--one', f'{mode}:{num_classes}', '--config',
                   args.config, '--batch', str(args.batch), '--threads', str(args.threads),
                   '--repeats', str(args.repeats), '--max-gb', str(args.max_gb)]
            done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith('RESULT ')]
            if done.returncode != 0 or not lines:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
                rows.append((mode, num_classes, 'failed', '', '', ' '.join(tail)))
                print(f'{mode} {num_classes}: failed ({tail})', flush=True)
                continue
            r = json.loads(lines[-1][len('RESULT '):])
            note = f"text {r['text_s']:.1f} s" if 'text_s' in r else ''
            rows.append((mode, num_classes, f"{r['seconds']:.3g}", f"{r['warmup_s']:.3g}",
                         f"{r['peak_rss_gb']:.2f}", note))
            print(f'{mode} {num_classes}: {r}', flush=True)
    header = ['mode', 'classes', 'seconds', 'first call s', 'peak RSS GB', 'note']
    with open(out_dir / 'results.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(v) for v in row) + ' |' for row in rows]
    table = '\n'.join(lines) + '\n'
    (out_dir / 'results.md').write_text(table)
    print(table)
    print(f"batch {args.batch}, {args.threads} thread(s), torch threads; written: "
          f"{out_dir / 'results.md'}")


if __name__ == '__main__':
    run_cli(main)
