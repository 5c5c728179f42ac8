"""Converts ADE20K-Full (ADE20K_2021_17_01) into the ADE-847 layout CAT-Seg evaluates on.

Follows MaskFormer's datasets/prepare_ade20k_full_sem_seg.py (which CAT-Seg's README points to as
prepare_ade20k_847.py): the object class of a pixel is ``R // 10 * 256 + G`` of the ``*_seg.png``
next to each image; the 847 kept ADE object ids become train ids 0..846 (table in
dense_clip/seg/datasets/ade847_categories.py), every other pixel 65535. Images whose short side
exceeds 512 px are resized to 512 (image bilinear, labels nearest), as MaskFormer does.

Input (the ADE20K 2021 release, https://groups.csail.mit.edu/vision/datasets/ADE20K/)::

    ADE20K_2021_17_01/images/ADE/validation/<scene folders>/ADE_val_<n>.jpg (+ ADE_val_<n>_seg.png)

Output, in the same root::

    ADE20K_2021_17_01/images_detectron2/validation/ADE_val_<n>.jpg
    ADE20K_2021_17_01/annotations_detectron2/validation/ADE_val_<n>.tif   # uint16

    python tools/dataset_converters/ade847.py data/ADE20K_2021_17_01
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dense_clip.seg.datasets.class_lists import ade847_object_ids
from dense_clip.utils.progress import run_all

IGNORE = 65535
MAX_SHORT_SIDE = 512
_PREFIX = {'validation': 'ADE_val_', 'training': 'ADE_train_'}


def id_lut() -> np.ndarray:
    """(65536,) uint16 lookup: ADE20K 2021 object class id -> ADE-847 train id or 65535."""
    lut = np.full(1 << 16, IGNORE, np.uint16)
    for train_id, ade_id in enumerate(ade847_object_ids()):
        lut[ade_id] = train_id
    return lut


def decode_class_ids(seg: np.ndarray) -> np.ndarray:
    """(H, W) int32 object class ids from an ADE20K ``*_seg.png`` (H, W, 3) uint8 RGB array."""
    if seg.ndim != 3 or seg.shape[2] < 3:
        raise ValueError(f'expected an RGB *_seg.png, got shape {seg.shape}')
    return (seg[..., 0].astype(np.int32) // 10) * 256 + seg[..., 1].astype(np.int32)


def target_size(height: int, width: int, max_short: int = MAX_SHORT_SIDE) -> tuple[int, int] | None:
    """(height, width) after MaskFormer's resize, or None when the short side is <= max_short."""
    if width >= height > max_short:
        return max_short, round(width / height * max_short)
    if height >= width > max_short:
        return round(height / width * max_short), max_short
    return None


def convert_one(image_path: Path, out_image: Path, out_label: Path) -> None:
    """Writes the resized image and its uint16 train-id map for one ADE20K image."""
    seg_path = image_path.with_name(image_path.stem + '_seg.png')
    if not seg_path.is_file():
        raise FileNotFoundError(f'{seg_path} not found (expected next to {image_path.name})')
    image = np.asarray(Image.open(image_path))
    with Image.open(seg_path) as seg:
        label = id_lut()[np.clip(decode_class_ids(np.asarray(seg.convert('RGB'))), 0, 65535)]
    size = target_size(*image.shape[:2])
    if size is not None:
        height, width = size
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
    Image.fromarray(image).save(out_image)
    Image.fromarray(label).save(out_label, format='TIFF')


def _convert(job: tuple[Path, Path, Path]) -> None:
    convert_one(*job)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', type=Path, help='the ADE20K_2021_17_01 folder')
    parser.add_argument(
        '--split',
        choices=sorted(_PREFIX),
        default='validation',
        help='default: %(default)s (the benchmark)',
    )
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    in_dir = args.root / 'images' / 'ADE' / args.split
    if not in_dir.is_dir():
        raise SystemExit(
            f'ADE20K image folder {in_dir} not found: unzip ADE20K_2021_17_01.zip '
            'and pass the ADE20K_2021_17_01 folder'
        )
    images = sorted(in_dir.rglob(f'{_PREFIX[args.split]}*.jpg'))
    if not images:
        raise SystemExit(f'no {_PREFIX[args.split]}*.jpg images under {in_dir}')
    out_images = args.root / 'images_detectron2' / args.split
    out_labels = args.root / 'annotations_detectron2' / args.split
    out_images.mkdir(parents=True, exist_ok=True)
    out_labels.mkdir(parents=True, exist_ok=True)
    jobs = [(p, out_images / p.name, out_labels / (p.stem + '.tif')) for p in images]
    desc = f'ADE-847 {args.split}'
    run_all(_convert, jobs, desc, unit='image', workers=args.nproc, chunksize=16)
    print(f'{args.split}: wrote {len(jobs)} images to {out_images} and labels to {out_labels}')


if __name__ == '__main__':
    sys.exit(main())
