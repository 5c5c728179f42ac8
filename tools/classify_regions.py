"""Classifies boxes of one image with any list of class names and writes an overlay.

    python tools/classify_regions.py [IMAGE] --boxes "x1,y1,x2,y2;x1,y1,x2,y2" \
        [--classes "red striped,blue dotted|blue dots"] [--config CONFIG] [--out regions.png]
    python tools/classify_regions.py photo.jpg --boxes "10,20,200,220" --classes "cat,dog" \
        --config configs/regionclip/regionclip_rn50_zeroshot-gt_ov-coco.py

One dense CLIP pass over the image, one region embedding per box (RoIAlign on the dense map, or
RegionCLIP's res5 path for a ResNet CLIP), classified against the class-name embeddings. The
defaults need no download: the embedded tiny CLIP (configs/synthetic_det/
zeroshot-boxes_tiny-clip_synthetic-det.py), the bundled synthetic sample image and the synthetic
world's 24 classes. Classes are comma-separated; ``|`` joins synonyms of one class. Prints the
class and probability per box. Bad boxes (empty list, NaN, zero area, outside the image) are a
one-line error naming the box.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / 'configs' / 'synthetic_det' / 'zeroshot-boxes_tiny-clip_synthetic-det.py'


def parse_args() -> argparse.Namespace:
    from dense_clip.synthetic.samples import SAMPLE_IMAGE

    parser = argparse.ArgumentParser(description='Zero-shot classification of boxes')
    parser.add_argument('image', nargs='?', default=str(SAMPLE_IMAGE),
                        help='image file (default: the bundled synthetic sample)')
    parser.add_argument('--boxes', required=True,
                        help='boxes "x1,y1,x2,y2;x1,y1,x2,y2" in image pixels')
    parser.add_argument('--classes', help='comma-separated class names ("|" joins synonyms); '
                        "default: the synthetic world's classes")
    parser.add_argument('--config', default=str(DEFAULT_CONFIG),
                        help='a detection config of a ZeroShotRegionDetector')
    parser.add_argument('--clip-model', help='open_clip model name, e.g. ViT-B-16')
    parser.add_argument('--pretrained', help='open_clip tag or checkpoint file for --clip-model')
    parser.add_argument('--score-thresh', type=float, default=0.0,
                        help='boxes whose best probability is below it are "unknown"')
    parser.add_argument('--out', default='regions_overlay.png', help='output PNG path')
    return parser.parse_args()


def parse_boxes(text: str) -> list[list[float]]:
    """'x1,y1,x2,y2;...' -> list of 4-number boxes.

    Raises:
        ValueError: an empty list or a box that is not 4 numbers (the box is named).
    """
    items = [item.strip() for item in text.split(';') if item.strip()]
    if not items:
        raise ValueError(f'--boxes {text!r}: the box list is empty; give x1,y1,x2,y2 boxes '
                         'separated by ";"')
    boxes = []
    for i, item in enumerate(items):
        parts = [p.strip() for p in item.split(',')]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f'--boxes: box {i} {item!r} is not numbers x1,y1,x2,y2') from None
        if len(values) != 4:
            raise ValueError(f'--boxes: box {i} {item!r} has {len(values)} numbers; a box is '
                             'x1,y1,x2,y2')
        boxes.append(values)
    return boxes


def parse_classes(text: str) -> list[str]:
    """'dog|puppy,cat' -> ['dog: dog, puppy', 'cat: cat'] (named by the first synonym)."""
    classes = [[s.strip() for s in item.split('|')] for item in text.split(',')]
    if not text.strip() or any(not s for synonyms in classes for s in synonyms):
        raise ValueError(f'--classes {text!r} has an empty class name')
    return [f'{synonyms[0]}: {", ".join(synonyms)}' for synonyms in classes]


def draw_boxes(image_rgb, boxes, labels, scores, class_names, out_path: str | Path,
               min_width: int = 256) -> Path:
    """Writes the image with each box outlined and captioned "class probability"."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    from dense_clip.utils.overlay import palette

    image = Image.fromarray(image_rgb)
    scale = max(1, int(np.ceil(min_width / image.width)))
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    colours = palette(len(class_names) + 1)
    for box, label, score in zip(boxes, labels, scores):
        colour = tuple(int(c) for c in colours[label if label >= 0 else len(class_names)])
        x1, y1, x2, y2 = (float(v) * scale for v in box)
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
        name = class_names[label] if label >= 0 else 'unknown'
        draw.text((x1 + 2, max(y1 - 11, 0)), f'{name} {score:.2f}', fill=colour, font=font)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    image.save(out_path)
    return out_path


def main() -> None:
    args = parse_args()
    import torch

    from dense_clip.apis.region_inferencer import RegionInferencer
    from dense_clip.det.class_split import load_class_split
    from dense_clip.models.region import check_boxes
    from dense_clip.utils.images import read_image_rgb

    if not os.path.isfile(args.image):
        raise FileNotFoundError(f'image file not found: {args.image}')
    boxes = parse_boxes(args.boxes)
    classes = (parse_classes(args.classes) if args.classes
               else load_class_split('synthetic').vocabulary())
    image = read_image_rgb(Path(args.image).read_bytes(), args.image)
    check_boxes(torch.tensor(boxes), image.shape[:2], '--boxes')  # before building a model
    clip = None
    if args.clip_model or args.pretrained:
        clip = dict(model_name=args.clip_model, pretrained=args.pretrained)
    inferencer = RegionInferencer(args.config, clip=clip, score_thresh=args.score_thresh)
    result = inferencer(image, boxes, classes)
    print(f'image: {args.image}  ({image.shape[1]}x{image.shape[0]})')
    print(f'config: {args.config}')
    for i, (box, label, score) in enumerate(zip(result.boxes, result.labels, result.scores)):
        name = result.class_names[label] if label >= 0 else 'unknown'
        coords = ','.join(f'{v:g}' for v in box)
        print(f'  box {i} ({coords}): {name}  {score:.3f}')
    draw_boxes(image, result.boxes, result.labels, result.scores, result.class_names, args.out)
    print(f'overlay written to {args.out}')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
