"""Segments one image with any list of class names and writes a PNG overlay with a legend.

    python tools/demo.py [IMAGE] [--classes "cat,dog,sky"] [--method clearclip] [--out out.png]
    python tools/demo.py photo.jpg --classes "cat,dog,sky" --config configs/sclip/...py
    python tools/demo.py photo.jpg --classes "cat,dog" --clip-model ViT-B-16 --pretrained openai

Defaults need no download: the embedded tiny CLIP (``dense_clip:tiny-clip-synth``), the bundled
synthetic sample image and the synthetic world's class list. Classes are comma-separated; give
synonyms of one class with ``|`` (e.g. ``"dog|puppy,cat"``). Prints each class's pixel share.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = 'configs/synthetic/{method}_tiny-clip_synthetic.py'
METHODS = ('vanilla', 'maskclip', 'sclip', 'clearclip', 'naclip', 'cliptrase', 'catseg')


def parse_args() -> argparse.Namespace:
    from dense_clip.synthetic.samples import SAMPLE_IMAGE

    parser = argparse.ArgumentParser(description='Open-vocabulary segmentation of one image')
    parser.add_argument('image', nargs='?', default=str(SAMPLE_IMAGE),
                        help='image file (default: the bundled synthetic sample)')
    parser.add_argument('--classes', help='comma-separated class names ("|" joins synonyms); '
                        "default: the config's vocabulary")
    parser.add_argument('--method', default='catseg', choices=METHODS,
                        help='method of the default embedded config (default: the best on the '
                        'synthetic benchmark, CAT-Seg with its shipped weights; see README)')
    parser.add_argument('--config', help='a dense_clip segmentation config (overrides --method)')
    parser.add_argument('--clip-model', help='open_clip model name, e.g. ViT-B-16')
    parser.add_argument('--pretrained', help='open_clip tag or checkpoint file for --clip-model')
    parser.add_argument('--out', default='demo_overlay.png', help='output PNG path')
    parser.add_argument('--alpha', type=float, default=0.55, help='overlay opacity')
    return parser.parse_args()


def parse_classes(text: str) -> list[str]:
    """'dog|puppy,cat' -> ['dog: dog, puppy', 'cat: cat'] (a class is named by its first synonym).

    Raises:
        ValueError: an empty class or synonym.
    """
    classes = [[s.strip() for s in item.split('|')] for item in text.split(',')]
    if not text.strip() or any(not s for synonyms in classes for s in synonyms):
        raise ValueError(f'--classes {text!r} has an empty class name')
    return [f'{synonyms[0]}: {", ".join(synonyms)}' for synonyms in classes]


def main() -> None:
    args = parse_args()
    import numpy as np

    from dense_clip.apis import SegmentationInferencer
    from dense_clip.utils.overlay import draw_overlay

    if not os.path.isfile(args.image):
        raise FileNotFoundError(f'image file not found: {args.image}')
    config = args.config or str(REPO / DEFAULT_CONFIG.format(method=args.method))
    clip = None
    if args.clip_model or args.pretrained:
        clip = dict(model_name=args.clip_model, pretrained=args.pretrained)
    inferencer = SegmentationInferencer(config, clip=clip)
    classes = parse_classes(args.classes) if args.classes else None
    result = inferencer(args.image, classes)

    names = result.class_names
    labels = result.labels
    shares = np.bincount(labels.ravel(), minlength=len(names)) / labels.size
    draw_overlay(result.image_rgb, labels, names, args.out, alpha=args.alpha)
    print(f'image: {args.image}  ({labels.shape[1]}x{labels.shape[0]})')
    print(f'config: {os.path.relpath(config, REPO) if config.startswith(str(REPO)) else config}')
    print('pixel share per class (classes with no pixels omitted):')
    for name, share in sorted(zip(names, shares), key=lambda item: -item[1]):
        if share > 0:
            print(f'  {name:<24s} {100 * share:6.2f}%')
    print(f'overlay written to {args.out}')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
