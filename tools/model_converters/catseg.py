"""Converts CAT-Seg checkpoints between the authors' detectron2 layout and dense_clip's.

The authors release detectron2 checkpoints (KU-CVLAB/CAT-Seg README: ``model_base.pth`` for
ViT-B/16, ``model_large.pth`` for ViT-L/14@336) whose ``model`` holds
``sem_seg_head.predictor.clip_model.*`` (their CLIP with separate q/k/v weights),
``sem_seg_head.predictor.transformer.*`` (the aggregator) and ``upsample1/2.*``; dense_clip's
``CATSegSegmentor`` holds the same tensors as ``catseg.clip_model.*`` (open_clip layout, q/k/v
packed), ``catseg.aggregator.*`` and ``catseg.guidance_upsample.*``. Both directions are lossless
(the authors' stored shifted-window masks are checked, dropped and regenerated). Files are read
weights-only.

    # the authors' checkpoint -> dense_clip (.pth with 'state_dict', or .safetensors)
    python tools/model_converters/catseg.py model_base.pth catseg_vit-b16_coco-stuff171.pth
    # a dense_clip checkpoint (converted or trained) -> the authors' layout
    python tools/model_converters/catseg.py work_dirs/x/iter_80000.pth model.pth --to-authors

Use the result as tools/test.py's CHECKPOINT with a configs/catseg/ config, or give the authors'
file directly as ``--cfg-options model.weights=model_base.pth`` (converted on load).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dense_clip.models.catseg.checkpoint import convert_checkpoint_file  # noqa: E402
from dense_clip.utils.cli import run_cli  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='input checkpoint (.pth / .pt / .safetensors)')
    parser.add_argument('dst', help='output file (.pth / .pt, or .safetensors for dense_clip)')
    parser.add_argument('--to-authors', action='store_true',
                        help="write the authors' detectron2 layout (default: dense_clip's)")
    parser.add_argument('--feature-grid', type=int, default=24,
                        help="feature grid side of the model, for the authors' stored masks "
                        '(24 for both released models)')
    parser.add_argument('--window', type=int, default=12, help='aggregator window size (12)')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = convert_checkpoint_file(args.src, args.dst, args.to_authors,
                                  (args.feature_grid, args.feature_grid), args.window)
    layout = "the authors' layout" if args.to_authors else "dense_clip's layout"
    print(f'wrote {len(out)} tensors in {layout} to {args.dst}')


if __name__ == '__main__':
    run_cli(main)
