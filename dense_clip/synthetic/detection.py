"""The synthetic world as an open-vocabulary detection benchmark (COCO and LVIS json).

Scenes are rendered larger than the 64 px of the tiny CLIP's training images (128 px by default)
with objects at the SAME pixel size as in training (radius 10-18 px), so a region covers 2-5
patches of the 8 px grid as before and the image holds more of them; the tiny CLIP sees the
larger grid (16 x 16) through resized positional embeddings. At 64 px the 8 x 8 grid gave F-ViT's
pyramid a stride-32 level of 2 x 2 cells and too few boxes per image.

Splits (seen / unseen as in :mod:`dense_clip.synthetic.world`):

* ``train``: 1-4 objects of seen categories only (base-class training; unseen objects never
  appear, as the world's rule says);
* ``val``: 2-4 objects of any category (each image holds an unseen object with probability ~0.6).

Layout::

    root/images/{train,val}/{i:05d}.png                 RGB uint8
    root/annotations/instances_{train,val}.json         COCO: boxes, uncompressed-RLE masks
    root/annotations/lvis_{train,val}.json              the same in LVIS v1 form (frequency
                                                        'r' = unseen, 'f' = seen; images by
                                                        coco_url, relative to root/images)

Sample ``i`` of a split is rendered from ``default_rng([seed, split_code, i])`` alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import world
from .dataset import _bbox, coco_categories, png_bytes, rle_encode

__all__ = ['DETECTION_SPLIT_CODES', 'detection_scene', 'write_detection_dataset']

DETECTION_SPLIT_CODES = {'train': 20, 'val': 21}
#: Object radius in pixels, as in the tiny CLIP's training images (``world.render_scene``
#: scales its radius range by size / 64, undone here).
RADIUS_PX = (10.0, 18.0)
_COUNTS = {'train': (0.0, 0.25, 0.3, 0.25, 0.2), 'val': (0.0, 0.0, 0.35, 0.35, 0.3)}


def detection_scene(seed: int, split: str, index: int, size: int = 128) -> world.Scene:
    """Scene ``index`` of a detection split ('train' or 'val')."""
    if split not in DETECTION_SPLIT_CODES:
        raise ValueError(f'unknown split {split!r}; valid: {sorted(DETECTION_SPLIT_CODES)}')
    rng = np.random.default_rng([seed, DETECTION_SPLIT_CODES[split], index])
    cats = world.categories()
    pool = [c for c in cats if c.seen] if split == 'train' else cats
    scale = 64.0 / size
    radius = (RADIUS_PX[0] * scale, RADIUS_PX[1] * scale)
    return world.render_scene(rng, world.sample_categories(rng, pool, _COUNTS[split]), size,
                              radius_range=radius)


def _lvis(coco: dict, split: str) -> dict:
    """The same annotations in LVIS v1 form: categories with frequency, federated image keys."""
    images = []
    cats_in: dict[int, set] = {}
    for ann in coco['annotations']:
        cats_in.setdefault(ann['image_id'], set()).add(ann['category_id'])
    all_ids = {c['id'] for c in coco['categories']}
    for image in coco['images']:
        present = cats_in.get(image['id'], set())
        # LVIS paths are the last two parts of coco_url: <split>/<file> under images/.
        record = {k: v for k, v in image.items() if k != 'file_name'}  # LVIS has none
        images.append(dict(record, coco_url=f"http://synthetic/{split}/{image['file_name']}",
                           neg_category_ids=sorted(all_ids - present),
                           not_exhaustive_category_ids=[]))
    categories = [dict(c, frequency='r' if c['split'] == 'unseen' else 'f',
                       image_count=0, instance_count=0) for c in coco['categories']]
    annotations = [{k: v for k, v in a.items() if k != 'iscrowd'} for a in coco['annotations']]
    return dict(coco, images=images, categories=categories, annotations=annotations)


def write_detection_dataset(root: str | Path, seed: int = 0, n_train: int = 400,
                            n_val: int = 200, size: int = 128) -> dict[str, int]:
    """Writes the detection benchmark (see the module docstring).

    Returns:
        Number of annotated objects per split.
    """
    root = Path(root)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, n in (('train', n_train), ('val', n_val)):
        folder = root / 'images' / split
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(n):
            scene = detection_scene(seed, split, i, size)
            name = f'{i:05d}.png'
            (folder / name).write_bytes(png_bytes(scene.image))
            images.append({'id': i + 1, 'file_name': name, 'height': size, 'width': size})
            for obj in scene.objects:
                annotations.append({
                    'id': len(annotations) + 1, 'image_id': i + 1,
                    'category_id': obj.category.index, 'bbox': _bbox(obj.mask),
                    'area': float(obj.mask.sum()), 'segmentation': rle_encode(obj.mask),
                    'iscrowd': 0})
        coco = {'info': {'description': f'dense_clip synthetic detection, seed {seed}, {split}'},
                'images': images, 'annotations': annotations, 'categories': coco_categories()}
        (root / 'annotations' / f'instances_{split}.json').write_text(json.dumps(coco) + '\n')
        lvis = json.dumps(_lvis(coco, split))
        (root / 'annotations' / f'lvis_{split}.json').write_text(lvis + '\n')
        counts[split] = len(annotations)
    return counts
