"""Segments one image with any list of class names and writes a PNG overlay with a legend.

    python tools/demo.py [IMAGE] [--classes "cat,dog,sky"] [--method clearclip] [--out out.png]
    python tools/demo.py photo.jpg --classes "cat,dog,sky" --config configs/sclip/...py
    python tools/demo.py photo.jpg --classes "cat,dog" --clip-model ViT-B-16 --pretrained openai
    python tools/demo.py photo.jpg --classes "cat,dog" --pretrained zoo://clip_vit-b16_openai

Defaults need no download: the embedded tiny CLIP (``dense_clip:tiny-clip-synth``), the bundled
synthetic sample image and the synthetic world's class list. Classes are comma-separated; give
synonyms of one class with ``|`` (e.g. ``"dog|puppy,cat"``); ``"name: syn1|syn2"`` names a class
apart from its prompts (with a warning). Prints each class's pixel share. ``--classes``,
``--alpha`` and ``--out`` are checked before the model is built.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = 'configs/synthetic/{method}_tiny-clip_synthetic.py'
METHODS = ('vanilla', 'maskclip', 'sclip', 'clearclip', 'naclip', 'cliptrase', 'catseg')
#: Methods trained with the embedded CLIP: their weights do not fit another CLIP.
TRAINED_METHODS = ('catseg',)
#: The default method with another CLIP (training-free, so any CLIP works).
OTHER_CLIP_METHOD = 'clearclip'


def parse_args() -> argparse.Namespace:
    from dense_clip.apis.classes import CLASS_SYNTAX
    from dense_clip.synthetic.samples import SAMPLE_IMAGE

    parser = argparse.ArgumentParser(description='Open-vocabulary segmentation of one image')
    parser.add_argument('image', nargs='?', default=str(SAMPLE_IMAGE),
                        help='image file (default: the bundled synthetic sample)')
    parser.add_argument('--classes', help=f"{CLASS_SYNTAX}; default: the config's vocabulary")
    parser.add_argument('--method', choices=METHODS,
                        help='method of the default embedded config (default: the best on the '
                        'synthetic benchmark, CAT-Seg with its shipped weights; with '
                        f'--clip-model / --pretrained: {OTHER_CLIP_METHOD}; see README)')
    parser.add_argument('--config', help='a dense_clip segmentation config (overrides --method)')
    parser.add_argument('--clip-model', help='open_clip model name, e.g. ViT-B-16')
    parser.add_argument('--pretrained', help='open_clip tag or checkpoint file for --clip-model, '
                        'or a model-zoo name zoo://NAME (downloaded and checked on first use)')
    parser.add_argument('--out', default='demo_overlay.png',
                        help='output image (.png, .jpg, ...)')
    parser.add_argument('--alpha', type=float, default=0.55, help='overlay opacity, 0 to 1')
    return parser.parse_args()


def checked_classes(text: str | None) -> list[str] | None:
    """``--classes`` parsed (None: the config's vocabulary); renamed classes are reported."""
    import warnings

    from dense_clip.apis.classes import ClassNameWarning, parse_classes
    from dense_clip.models.text import Vocabulary

    if text is None:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', ClassNameWarning)
        classes = parse_classes(text)
    Vocabulary(classes)  # duplicate names are an error before the model is built
    for warning in caught:
        print(f'warning: {warning.message}', file=sys.stderr)
    return classes


def main() -> None:
    args = parse_args()
    import numpy as np

    from dense_clip.apis import SegmentationInferencer
    from dense_clip.utils.overlay import check_alpha, check_image_path, draw_overlay
    from dense_clip.utils.progress import Progress

    if not os.path.isfile(args.image):
        raise FileNotFoundError(f'image file not found: {args.image}')
    check_image_path(args.out, '--out')
    check_alpha(args.alpha, '--alpha')
    classes = checked_classes(args.classes)
    other_clip = bool(args.clip_model or args.pretrained)
    method = args.method or (OTHER_CLIP_METHOD if other_clip else 'catseg')
    if other_clip and not args.config and method in TRAINED_METHODS:
        raise ValueError(f'--method {method} runs weights trained with the embedded CLIP, which '
                         'do not fit --clip-model / --pretrained; pick a training-free --method '
                         f'({", ".join(m for m in METHODS if m not in TRAINED_METHODS)})')
    config = args.config or str(REPO / DEFAULT_CONFIG.format(method=method))
    clip = None
    if other_clip:
        clip = dict(model_name=args.clip_model, pretrained=args.pretrained)
    # model building (CLIP weights) and segmentation (text encoding, windows) can each take
    # minutes with a large CLIP and vocabulary; two steps, delayed so the default run is quiet
    with Progress(2, 'demo', unit='step', delay=3.0) as progress:
        inferencer = SegmentationInferencer(config, clip=clip)
        progress.update()
        result = inferencer(args.image, classes)
        progress.update()

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
