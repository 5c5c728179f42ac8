"""Writes COCO-Object label maps: 0 = background, 1..80 = COCO things in category-id order.

Two sources:

``--source stuffthingmaps`` (default, what SCLIP/NACLIP/GroupViT evaluate on): the COCO-Stuff-164k
label PNGs (stuffthingmaps_trainval2017.zip, values = COCO category id - 1, 255 = unlabeled).
Thing pixels become their thing index 1..80; stuff and unlabeled pixels become background 0, as
GroupViT's convert_dataset/convert_coco_object.py (copied by SCLIP and NACLIP) maps them::

    COCO_STUFF_ROOT/                     # e.g. data/coco_stuff164k
        images/val2017/*.jpg
        annotations/val2017/<id>.png     # input
        annotations/val2017/<id>_instanceTrainIds.png   # output

``--source instances``: COCO instance annotations (``--ann-file instances_val2017.json``, needs
pycocotools). Non-crowd instances are painted in file order, a later instance overwriting an earlier
one where they overlap (the rule of cocostuffapi's ``cocoSegmentationToSegmentationMap``); crowd
regions stay background unless ``--include-crowd``. COCO-Stuff's thing maps were made from the same
instances, so the two sources agree up to how the COCO-Stuff authors resolved overlaps.

    python tools/dataset_converters/coco_object.py data/coco_stuff164k
    python tools/dataset_converters/coco_object.py data/coco_stuff164k --source instances \\
        --ann-file data/coco/annotations/instances_val2017.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from dense_clip.utils.progress import run_all, track

#: The 80 COCO thing category ids (1..90 without the 10 unused ids), in order.
COCO_THING_IDS = tuple(i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))
SUFFIX = '_instanceTrainIds.png'


def stuffthingmap_lut() -> np.ndarray:
    """(256,) uint8 lookup: COCO-Stuff label value (category id - 1) -> COCO-Object label."""
    lut = np.zeros(256, np.uint8)  # stuff (91..181), unused ids and 255 -> background
    for index, cat_id in enumerate(COCO_THING_IDS, start=1):
        lut[cat_id - 1] = index
    return lut


def convert_stuffthingmap(src: Path, dst: Path) -> None:
    """Converts one COCO-Stuff label PNG into a COCO-Object one."""
    label = np.asarray(Image.open(src))
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(f'{src}: expected a single-channel 8-bit label map')
    Image.fromarray(stuffthingmap_lut()[label]).save(dst)


def _import_mask_api():
    try:
        from pycocotools import mask as mask_api
    except ImportError as error:
        raise SystemExit(
            '--source instances needs pycocotools: pip install pycocotools '
            '(it comes with requirements/det.txt)'
        ) from error
    return mask_api


def instance_label_map(
    image: dict, annotations: list[dict], include_crowd: bool = False
) -> np.ndarray:
    """Paints one image's instances into a (H, W) uint8 COCO-Object label map.

    Args:
        image: COCO image record (needs ``height`` and ``width``).
        annotations: The image's instance records, in file order; ``segmentation`` is a polygon
            list, an uncompressed RLE (``counts`` list) or a compressed RLE (``counts`` str).
        include_crowd: Whether ``iscrowd`` regions are painted too.

    Returns:
        Label map, 0 = background, 1..80 = thing index; later instances win overlaps.
    """
    mask_api = _import_mask_api()
    height, width = image['height'], image['width']
    index_of = {cat_id: i for i, cat_id in enumerate(COCO_THING_IDS, start=1)}
    label = np.zeros((height, width), np.uint8)
    for ann in annotations:
        if ann.get('iscrowd', 0) and not include_crowd:
            continue
        if ann['category_id'] not in index_of:
            raise ValueError(
                f'annotation {ann.get("id")}: {ann["category_id"]} is not a COCO thing category id'
            )
        segmentation = ann['segmentation']
        if isinstance(segmentation, list):  # polygons
            rle = mask_api.merge(mask_api.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation['counts'], list):  # uncompressed RLE
            rle = mask_api.frPyObjects(segmentation, height, width)
        else:
            rle = segmentation
        label[mask_api.decode(rle).astype(bool)] = index_of[ann['category_id']]
    return label


def _convert_from_instances(args: argparse.Namespace, split: str, out_dir: Path) -> int:
    ann_file = Path(args.ann_file or args.root / 'annotations' / f'instances_{split}.json')
    if not ann_file.is_file():
        raise SystemExit(f'instance annotation file {ann_file} not found (give --ann-file)')
    _import_mask_api()
    data = json.loads(ann_file.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    per_image: dict[int, list[dict]] = {image['id']: [] for image in data['images']}
    for ann in data['annotations']:
        per_image[ann['image_id']].append(ann)
    for image in track(data['images'], f'COCO-Object {split}', unit='image'):
        label = instance_label_map(image, per_image[image['id']], args.include_crowd)
        Image.fromarray(label).save(out_dir / (Path(image['file_name']).stem + SUFFIX))
    return len(data['images'])


def _convert_pair(pair: tuple[Path, Path]) -> None:
    convert_stuffthingmap(*pair)


def _convert_from_stuff(args: argparse.Namespace, split: str, out_dir: Path) -> int:
    in_dir = args.root / 'annotations' / split
    if not in_dir.is_dir():
        raise SystemExit(
            f'COCO-Stuff label folder {in_dir} not found: unzip '
            'stuffthingmaps_trainval2017.zip into <root>/annotations/'
        )
    sources = sorted(p for p in in_dir.glob('*.png') if 'TrainIds' not in p.name)
    if not sources:
        raise SystemExit(f'no COCO-Stuff label PNGs in {in_dir}')
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = [(src, out_dir / (src.stem + SUFFIX)) for src in sources]
    desc = f'COCO-Object {split}'
    run_all(_convert_pair, pairs, desc, unit='label map', workers=args.nproc, chunksize=64)
    return len(pairs)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', type=Path, help='COCO-Stuff-164k root (images/, annotations/)')
    parser.add_argument(
        '--source',
        choices=['stuffthingmaps', 'instances'],
        default='stuffthingmaps',
        help='input kind (default: %(default)s)',
    )
    parser.add_argument(
        '--ann-file',
        help='instances json (--source instances; default '
        '<root>/annotations/instances_<split>.json)',
    )
    parser.add_argument(
        '--include-crowd', action='store_true', help='--source instances: paint crowd regions too'
    )
    parser.add_argument('--splits', nargs='+', default=['val2017'], help='default: val2017')
    parser.add_argument(
        '-o',
        '--out-dir',
        type=Path,
        help='output root (default: root); labels go to <out>/annotations/<split>',
    )
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.root.is_dir():
        raise SystemExit(f'root folder {args.root} not found')
    if args.source == 'instances' and args.ann_file and len(args.splits) > 1:
        raise SystemExit('--ann-file holds one split; give a single --splits value')
    out_root = args.out_dir or args.root
    convert = _convert_from_instances if args.source == 'instances' else _convert_from_stuff
    for split in args.splits:
        out_dir = out_root / 'annotations' / split
        count = convert(args, split, out_dir)
        print(f'{split}: wrote {count} label maps to {out_dir}')
    images = out_root / 'images'
    if out_root != args.root and not images.exists() and (args.root / 'images').is_dir():
        images.symlink_to((args.root / 'images').resolve(), target_is_directory=True)
        print(f'linked {images} -> {args.root / "images"}')


if __name__ == '__main__':
    sys.exit(main())
