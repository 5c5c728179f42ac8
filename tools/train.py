"""Trains a model from a dense_clip config (segmentation or detection, chosen by the config).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NPROC [...]   # torchrun; gloo on machines without CUDA

The config is checked before the runner is built (syntax, model and hook settings, unread
keys: ``dense_clip.engine.config_check``), a resumed checkpoint before training starts, and
checkpoints are written atomically (``dense_clip.engine.checkpoint_saving``).
"""

import argparse
import os

from mmengine.runner import Runner

from dense_clip.engine import (
    check_resume_checkpoint,
    load_config,
    parse_tool_args,
    prepare_distributed,
    setup_checkpoint_loading,
    setup_checkpoint_saving,
)
from dense_clip.utils.cli import run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a dense_clip model')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from CHECKPOINT, or from the latest one in the work dir if none is given')
    return parse_tool_args(parser)


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    if cfg.get('train_dataloader') is None:
        raise ValueError(f'{args.config} has no train_dataloader: its model is training-free; '
                         'evaluate it with tools/test.py')
    setup_checkpoint_loading()
    setup_checkpoint_saving(cfg)  # temporary file + rename: never a partial checkpoint
    prepare_distributed(cfg, args.launcher)
    if args.resume is not None:
        cfg.resume = True
        if args.resume != 'auto':
            if not os.path.isfile(args.resume):
                raise FileNotFoundError(f'checkpoint to resume not found: {args.resume}')
            cfg.load_from = args.resume
    runner = Runner.from_cfg(cfg)
    if args.resume is not None:
        check_resume_checkpoint(runner)  # a training checkpoint of this model, or an error
    runner.train()


if __name__ == '__main__':
    run_cli(main)
