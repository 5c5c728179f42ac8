"""Evaluates a dense_clip config (segmentation or detection, chosen by the config).

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--cfg-options k=v ...]
        [--show-dir DIR] [--show [--wait-time S]] [--out PATH] [--no-per-class]

Training-free methods need no CHECKPOINT: their CLIP weights come from the config. A given
CHECKPOINT (a file, .safetensors included, or a model-zoo name ``zoo://NAME``) must match the
model key for key and shape for shape.

Besides the metrics, every run writes per-class results to ``WORK_DIR/<timestamp>/``:
``per_class.csv`` and the bar chart ``per_class.png`` (seen and unseen classes coloured apart
where the data set has a split), and logs the per-class table. ``--show-dir`` writes one
picture per image (segmentation: image | prediction | ground truth with a legend), ``--show``
opens a window per image, ``--out`` dumps the predictions (segmentation: a folder of label
PNGs; detection: a .pkl), as mmseg's and mmdet's tools do.
"""

import argparse

from mmengine.runner import Runner

from dense_clip.engine import (
    TestOutputs,
    configure_test_outputs,
    load_config,
    parse_tool_args,
    prepare_distributed,
    setup_checkpoint_loading,
)
from dense_clip.utils.checkpoint import check_state_dict_matches, load_checkpoint_file
from dense_clip.utils.cli import run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a dense_clip model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='trained checkpoint (optional)')
    parser.add_argument('--show-dir', help='write one picture per test image to this folder')
    parser.add_argument('--show', action='store_true', help='show each picture in a window')
    parser.add_argument('--wait-time', type=float, default=2.0,
                        help='seconds each --show window stays open (0: until a key press)')
    parser.add_argument('--out', help='dump predictions: a folder of label PNGs '
                        '(segmentation) or a .pkl file (detection)')
    parser.add_argument('--no-per-class', action='store_true',
                        help='skip the per-class table, CSV and chart')
    return parse_tool_args(parser)


def main() -> dict:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    configure_test_outputs(cfg, TestOutputs(args.show_dir, args.show, args.wait_time, args.out,
                                            per_class=not args.no_per_class))
    setup_checkpoint_loading()
    state_dict = None
    if args.checkpoint is not None:
        checkpoint = load_checkpoint_file(args.checkpoint)
        state_dict = checkpoint.get('state_dict', checkpoint)
        state_dict = {k.removeprefix('module.'): v for k, v in state_dict.items()}
    prepare_distributed(cfg, args.launcher)
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    model = getattr(runner.model, 'module', runner.model)
    if hasattr(model, 'init_weights'):
        model.init_weights()  # pretrained CLIP weights named by the config
    if state_dict is not None:
        check_state_dict_matches(model, state_dict, args.checkpoint)
        model.load_state_dict(state_dict)
    return runner.test()


if __name__ == '__main__':
    run_cli(main)
