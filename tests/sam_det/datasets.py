"""Tiny COCO-instance, LVIS-v1 and COCO-panoptic sets in their real file formats (for tests).

Each image holds two coloured rectangles (things) on a two-part background (stuff) so every
annotation type has something to describe. Category ids are the class order + 1 (1-based, as
COCO); the loaders map names to labels, so only names and order matter.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (40, 56)  # (height, width)


def _scene(index: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """An RGB image and its objects as (class index, mask)."""
    rng = np.random.default_rng(index)
    h, w = SIZE
    image = np.zeros((h, w, 3), np.uint8)
    image[: h // 2] = (90, 150, 220)   # sky
    image[h // 2:] = (90, 160, 60)     # grass
    objects = []
    for k, (y, x, colour) in enumerate(((6, 6, (220, 40, 40)), (20, 30, (40, 40, 220)))):
        mask = np.zeros((h, w), bool)
        mask[y:y + 14, x:x + 18 - 2 * k] = True
        image[mask] = colour
        objects.append((k + index % 2, mask))
    image = (image + rng.integers(0, 10, image.shape)).clip(0, 255).astype(np.uint8)
    return image, objects


def _polygon(mask: np.ndarray) -> list[list[float]]:
    ys, xs = np.nonzero(mask)
    x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return [[float(x1), float(y1), float(x2), float(y1), float(x2), float(y2), float(x1),
             float(y2)]]


def _bbox(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()),
            float(ys.max() + 1 - ys.min())]


def write_coco_instances(root: Path, classes: tuple[str, ...], num_images: int = 2,
                         lvis: bool = False) -> Path:
    """COCO (or LVIS v1) instance annotations and images under ``root``; returns the json path."""
    image_dir = root / ('val2017' if not lvis else 'val2017')
    image_dir.mkdir(parents=True, exist_ok=True)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        image, objects = _scene(i)
        name = f'{i + 1:012d}.jpg'
        Image.fromarray(image).save(image_dir / name, quality=95)
        info = dict(id=i + 1, file_name=name, height=SIZE[0], width=SIZE[1])
        if lvis:
            info = dict(id=i + 1, height=SIZE[0], width=SIZE[1],
                        coco_url=f'http://images.cocodataset.org/val2017/{name}',
                        neg_category_ids=[3], not_exhaustive_category_ids=[])
        images.append(info)
        for label, mask in objects:
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1,
                                    category_id=label + 1, bbox=_bbox(mask),
                                    area=float(mask.sum()), segmentation=_polygon(mask),
                                    iscrowd=0))
    categories = [dict(id=k + 1, name=name, supercategory='thing') for k, name in
                  enumerate(classes)]
    if lvis:
        frequencies = 'rcf'
        for k, cat in enumerate(categories):
            cat.update(frequency=frequencies[k % 3], synonyms=[cat['name']], image_count=1,
                       instance_count=1, def_='')
    path = root / 'annotations' / ('lvis_v1_val.json' if lvis else 'instances_val2017.json')
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=categories)))
    return path


def _id2rgb(ids: np.ndarray) -> np.ndarray:
    rgb = np.zeros((*ids.shape, 3), np.uint8)
    for c in range(3):
        rgb[..., c] = (ids // 256 ** c) % 256
    return rgb


def write_coco_panoptic(root: Path, things: tuple[str, ...], stuff: tuple[str, ...],
                        num_images: int = 2) -> Path:
    """COCO panoptic annotations (json + id PNGs) and images; returns the json path.

    Things are the two rectangles (classes 0 and 1 of ``things``); stuff is ``stuff[0]`` above
    the middle row and ``stuff[1]`` below it.
    """
    image_dir, seg_dir = root / 'val2017', root / 'annotations' / 'panoptic_val2017'
    image_dir.mkdir(parents=True, exist_ok=True)
    seg_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    n_things = len(things)
    for i in range(num_images):
        image, objects = _scene(i)
        stem = f'{i + 1:012d}'
        Image.fromarray(image).save(image_dir / f'{stem}.jpg', quality=95)
        ids = np.zeros(SIZE, np.int64)
        segments = []
        h = SIZE[0]
        for k, (rows, cls) in enumerate(((slice(0, h // 2), 0), (slice(h // 2, h), 1))):
            region = np.zeros(SIZE, bool)
            region[rows] = True
            for _, mask in objects:
                region &= ~mask
            seg_id = 100 + k
            ids[region] = seg_id
            segments.append(dict(id=seg_id, category_id=n_things + cls + 1, iscrowd=0,
                                 bbox=_bbox(region), area=int(region.sum())))
        for k, (label, mask) in enumerate(objects):
            seg_id = 10 + k
            ids[mask] = seg_id
            segments.append(dict(id=seg_id, category_id=label + 1, iscrowd=0, bbox=_bbox(mask),
                                 area=int(mask.sum())))
        Image.fromarray(_id2rgb(ids)).save(seg_dir / f'{stem}.png')
        images.append(dict(id=i + 1, file_name=f'{stem}.jpg', height=SIZE[0], width=SIZE[1]))
        annotations.append(dict(image_id=i + 1, file_name=f'{stem}.png', segments_info=segments))
    categories = [dict(id=k + 1, name=name, isthing=1, supercategory='thing')
                  for k, name in enumerate(things)]
    categories += [dict(id=n_things + k + 1, name=name, isthing=0, supercategory='stuff')
                   for k, name in enumerate(stuff)]
    path = root / 'annotations' / 'panoptic_val2017.json'
    path.write_text(json.dumps(dict(images=images, annotations=annotations,
                                    categories=categories)))
    return path
