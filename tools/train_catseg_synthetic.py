"""Trains CAT-Seg on the synthetic world's seen classes, exports the weights, evaluates them.

Steps, all seeded: write the synthetic set (``--n-train`` training scenes of seen classes,
``--n-val`` validation scenes of all classes), train ``configs/catseg/
catseg_tiny-clip_synthetic-train.py`` with the embedded tiny CLIP through mmengine's Runner,
export what training changed (aggregator, guidance convs, the fine-tuned q/v attention weights)
as safetensors, then evaluate the exported file with ``configs/synthetic/
catseg_tiny-clip_synthetic.py`` (the benchmark's protocol: mmseg's IoUMetric, plus mIoU over the
seen and the unseen classes). A JSON beside the weights records the command, the settings, the
wall time and the metrics; ``tools/check_catseg_retrain.py`` reruns it and compares.

The shipped weights' command is recorded in ``dense_clip/data/catseg/catseg_tiny_synth.json``.

    python tools/train_catseg_synthetic.py [--iters N] [--batch B] [--out FILE] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from dense_clip.utils.cli import run_cli  # noqa: E402

TRAIN_CONFIG = REPO / 'configs' / 'catseg' / 'catseg_tiny-clip_synthetic-train.py'
EVAL_CONFIG = REPO / 'configs' / 'synthetic' / 'catseg_tiny-clip_synthetic.py'
SHIPPED = REPO / 'dense_clip' / 'data' / 'catseg' / 'catseg_tiny_synth.safetensors'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--iters', type=int, default=3000)
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=0, help='training seed (mmengine randomness)')
    p.add_argument('--data-seed', type=int, default=0, help='seed of the synthetic set')
    p.add_argument('--n-train', type=int, default=8000)
    p.add_argument('--n-val', type=int, default=200)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--val-interval', type=int, default=0,
                   help='also evaluate every N iterations while training (0: only at the end; '
                   'does not change the training)')
    p.add_argument('--cfg-options', nargs='*', default=[],
                   help='extra config overrides key=value (python literals), recorded')
    p.add_argument('--out', default=str(SHIPPED))
    p.add_argument('--work-dir', default='work_dirs/catseg_synthetic')
    return p.parse_args(argv)


def _overrides(args: argparse.Namespace, data_root: Path) -> dict:
    import ast

    out = {
        'train_dataloader.dataset.data_root': str(data_root),
        'val_dataloader.dataset.data_root': str(data_root),
        'test_dataloader.dataset.data_root': str(data_root),
        'train_dataloader.batch_size': args.batch,
        'optim_wrapper.optimizer.lr': args.lr,
        'train_cfg.max_iters': args.iters,
        'train_cfg.val_interval': args.val_interval or args.iters + 1,
        'param_scheduler.0.end': args.iters,
        'default_hooks.checkpoint.interval': args.iters,
        'default_hooks.checkpoint.max_keep_ckpts': 1,
        'default_hooks.logger.interval': max(min(50, args.iters // 10), 1),
        'randomness.seed': args.seed,
        'randomness.deterministic': False,
    }
    for item in args.cfg_options:
        key, _, value = item.partition('=')
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def evaluate(weights: Path, data_root: Path, work_dir: Path) -> dict:
    """mIoU (all / seen / unseen / per class) of exported weights on the val split."""
    from mmengine.runner import Runner

    from dense_clip.engine import load_config, setup_checkpoint_loading

    cfg = load_config(str(EVAL_CONFIG), {'model.weights': str(weights),
                                         'test_dataloader.dataset.data_root': str(data_root)},
                      work_dir=str(work_dir))
    cfg.log_level = 'WARNING'
    setup_checkpoint_loading()
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    return {k: float(v) for k, v in runner.test().items()}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from mmengine.runner import Runner

    from dense_clip.engine import load_config, setup_checkpoint_loading
    from dense_clip.models.catseg.checkpoint import save_finetuned_weights
    from dense_clip.synthetic.dataset import write_dataset

    work_dir = Path(args.work_dir)
    data_root = work_dir / 'data'
    start = time.perf_counter()
    write_dataset(data_root, seed=args.data_seed, n_train=args.n_train, n_val=args.n_val)
    cfg = load_config(str(TRAIN_CONFIG), _overrides(args, data_root),
                      work_dir=str(work_dir / 'train'))
    setup_checkpoint_loading()
    runner = Runner.from_cfg(cfg)
    train_start = time.perf_counter()
    runner.train()
    train_time = time.perf_counter() - train_start
    model = getattr(runner.model, 'module', runner.model)
    out = Path(args.out)
    record = save_finetuned_weights(model.catseg, out, model.trainable_clip)
    metrics = evaluate(out, data_root, work_dir / 'eval')
    argv_list = sys.argv[1:] if argv is None else argv
    record.update({
        'command': shlex.join(['python', 'tools/train_catseg_synthetic.py', *argv_list]),
        'config': str(TRAIN_CONFIG.relative_to(REPO)),
        'overrides': {k: v for k, v in _overrides(args, Path('<work-dir>/data')).items()},
        'torch': torch.__version__,
        'threads': args.threads,
        'train_wall_time_s': round(train_time, 1),
        'total_wall_time_s': round(time.perf_counter() - start, 1),
        'metrics': {k: round(v, 2) for k, v in metrics.items()},
    })
    out.with_suffix('.json').write_text(json.dumps(record, indent=2) + '\n')
    print(json.dumps({k: record['metrics'][k] for k in ('mIoU', 'mIoU_seen', 'mIoU_unseen')}))
    print(f"saved {out} ({record['bytes']} bytes, sha256 {record['sha256']})")
    return record


if __name__ == '__main__':
    run_cli(main)
