"""Evaluation sets of the synthetic world: classification, mmseg segmentation, COCO instances.

Splits (see ``world`` for the seen / unseen categories):
- ``train``: 1-3 objects of *seen* categories only (base-class training, as in OV benchmarks).
- ``val``: 2-3 objects of *all* categories; each val image holds at least one unseen object
  with probability ~0.5 (categories are drawn uniformly).
Zero-shot classification images hold one object of any category.

Sample ``i`` of a split is rendered from ``default_rng([seed, split_code, i])`` alone.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from dense_clip.utils.progress import track

from . import world

SPLIT_CODES = {'train': 10, 'val': 11, 'cls': 12}


def classification_set(seed: int, n: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Single-object images, classes cycling over all 24.

    Returns:
        ``(images, labels)``: (n, size, size, 3) uint8 RGB 0-255, (n,) int64 in 0..23
        (category index - 1).
    """
    cats = world.categories()
    images, labels = [], []
    for i in range(n):
        rng = np.random.default_rng([seed, SPLIT_CODES['cls'], i])
        cat = cats[i % len(cats)]
        images.append(world.render_scene(rng, [cat], size).image)
        labels.append(cat.index - 1)
    return np.stack(images), np.asarray(labels, np.int64)


def segmentation_scene(seed: int, split: str, index: int, size: int = 64) -> world.Scene:
    """Scene ``index`` of a segmentation split (``'train'`` or ``'val'``)."""
    if split not in ('train', 'val'):
        raise ValueError(f'Unknown split {split!r}; valid: train, val')
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
    cats = world.categories()
    if split == 'train':
        pool, counts = [c for c in cats if c.seen], (0.0, 0.4, 0.35, 0.25)
    else:
        pool, counts = cats, (0.0, 0.0, 0.5, 0.5)
    return world.render_scene(rng, world.sample_categories(rng, pool, counts), size)


def png_bytes(array: np.ndarray) -> bytes:
    """Deterministic PNG encoding of a uint8 HxW or HxWx3 array."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format='PNG', optimize=False, compress_level=6)
    return buf.getvalue()


def rle_encode(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE of a bool HxW mask (column-major, runs start with zeros)."""
    flat = np.asarray(mask, bool).flatten(order='F')
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {'size': [int(mask.shape[0]), int(mask.shape[1])], 'counts': [int(c) for c in counts]}


def rle_decode(rle: dict) -> np.ndarray:
    """Inverse of :func:`rle_encode`: bool (h, w) mask."""
    h, w = rle['size']
    values = np.zeros(h * w, bool)
    pos, val = 0, False
    for run in rle['counts']:
        values[pos : pos + run] = val
        pos, val = pos + run, not val
    return values.reshape((h, w), order='F')


def _bbox(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    return [float(x0), float(y0), float(xs.max() + 1 - x0), float(ys.max() + 1 - y0)]


def coco_categories() -> list[dict]:
    """COCO category records; ``id`` equals the segmentation label index."""
    return [
        {'id': c.index, 'name': c.name, 'synonyms': c.synonyms, 'split': 'seen' if c.seen else
         'unseen', 'supercategory': c.texture}
        for c in world.categories()
    ]


def write_dataset(root: str | Path, seed: int = 0, n_train: int = 200, n_val: int = 200,
                  size: int = 64, delay: float = 0.0) -> dict[str, int]:
    """Writes the segmentation set (mmseg layout), COCO instance json and class files.

    Layout::

        root/img_dir/{train,val}/{i:05d}.png     RGB uint8
        root/ann_dir/{train,val}/{i:05d}.png     uint8 labels, 0 = background, 1..24 classes
        root/annotations/instances_{train,val}.json   COCO boxes + uncompressed-RLE masks
        root/class_names.txt   25 lines, background first, comma-separated synonyms
        root/split.json        seen / unseen category names and the rule behind them

    Progress per split goes to stderr (:mod:`dense_clip.utils.progress`); ``delay`` seconds of
    work pass before anything is shown, so small sets written by tests stay silent.

    Returns:
        Number of images per split.
    """
    root = Path(root)
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    (root / 'class_names.txt').write_text('\n'.join(world.class_name_lines()) + '\n')
    cats = world.categories()
    split = {
        'seen': [c.name for c in cats if c.seen],
        'unseen': [c.name for c in cats if not c.seen],
        'rule': 'unseen = (COLOURS[i], TEXTURES[i % 4]); never in train images or captions',
    }
    (root / 'split.json').write_text(json.dumps(split, indent=2) + '\n')
    counts = {}
    for name, n in (('train', n_train), ('val', n_val)):
        img_dir, ann_dir = root / 'img_dir' / name, root / 'ann_dir' / name
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        indices = track(range(n), f'synthetic {name} set', unit='image', delay=delay) if n else ()
        for i in indices:  # an empty split reports nothing
            scene = segmentation_scene(seed, name, i, size)
            file = f'{i:05d}.png'
            (img_dir / file).write_bytes(png_bytes(scene.image))
            (ann_dir / file).write_bytes(png_bytes(scene.label))
            images.append({'id': i + 1, 'file_name': file, 'height': size, 'width': size})
            for obj in scene.objects:
                annotations.append({
                    'id': len(annotations) + 1, 'image_id': i + 1,
                    'category_id': obj.category.index, 'bbox': _bbox(obj.mask),
                    'area': float(obj.mask.sum()), 'segmentation': rle_encode(obj.mask),
                    'iscrowd': 0,
                })
        coco = {
            'info': {'description': f'dense_clip synthetic world, seed {seed}, split {name}'},
            'images': images, 'annotations': annotations, 'categories': coco_categories(),
        }
        (root / 'annotations' / f'instances_{name}.json').write_text(json.dumps(coco) + '\n')
        counts[name] = n
    return counts
