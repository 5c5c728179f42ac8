"""Tiny copies of the ten segmentation benchmarks, in their real directory layouts and file formats.

For tests and smoke runs: ``write_benchmark_dataset('voc20', tmp)`` writes a few images and label
maps where the benchmark's base config (configs/_base_/datasets/ov_voc20.py) expects them and
returns the folder to use as ``data_root``; ``expected_gt_sem_seg`` gives the class-index maps the
dataset pipeline must produce from them (reduce_zero_label and ignore values applied).

Benchmarks that share files share them here too (voc21/voc20 read the same VOC2012 masks,
context60/context59 the same VOC2010 masks, context459 the same VOC2010 images), so writing several
into one root is consistent. Needs numpy and Pillow only.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ['BENCHMARKS', 'BenchmarkSpec', 'expected_gt_sem_seg', 'write_benchmark_dataset']


@dataclass(frozen=True)
class BenchmarkSpec:
    """What a benchmark's tiny copy looks like.

    Attributes:
        family: Benchmarks of one family read the same label files.
        data_root: Folder of the benchmark, relative to the ``data/`` folder of the configs.
        num_classes: Number of evaluated classes.
        ignore_index: Value of ignored pixels in the loaded ``gt_sem_seg``.
        reduce_zero_label: Whether raw label 0 is ignored and the rest shift down by one.
    """

    family: str
    data_root: str
    num_classes: int
    ignore_index: int = 255
    reduce_zero_label: bool = False


@dataclass(frozen=True)
class _Family:
    """Files shared by the benchmarks of one family.

    Name patterns take ``i`` (0-based index), ``n`` (1-based) and ``city``; ``stem`` is the image
    id written to the split file, ``image``/``label`` are paths relative to ``data_root``.
    """

    raw_max: int  # largest raw label value of a class
    raw_ignore: int | None  # raw value of unlabeled pixels, if the files have one
    forced: tuple[int, ...]  # raw values every label map contains
    stem: str
    image: str
    label: str
    split_file: str | None = None
    extra_image: str | None = None  # an image outside the split, which datasets must skip


_VOC2010 = dict(
    stem='2008_{i:06d}', image='JPEGImages/{stem}.jpg', extra_image='JPEGImages/2008_900000.jpg'
)
_COCO = dict(stem='{n:012d}', image='images/val2017/{stem}.jpg')
_FAMILIES = {
    'voc': _Family(
        raw_max=20,
        raw_ignore=255,
        forced=(0, 20, 1),
        stem='2007_{i:06d}',
        image='JPEGImages/{stem}.jpg',
        label='SegmentationClass/{stem}.png',
        split_file='ImageSets/Segmentation/val.txt',
    ),
    'context': _Family(
        raw_max=59,
        raw_ignore=None,
        forced=(0, 59, 1),
        label='SegmentationClassContext/{stem}.png',
        split_file='ImageSets/SegmentationContext/val.txt',
        **_VOC2010,
    ),
    'coco_object': _Family(
        raw_max=80,
        raw_ignore=None,
        forced=(0, 80, 1),
        label='annotations/val2017/{stem}_instanceTrainIds.png',
        **_COCO,
    ),
    'coco_stuff': _Family(
        raw_max=170,
        raw_ignore=255,
        forced=(0, 170, 91),
        label='annotations/val2017/{stem}_labelTrainIds.png',
        **_COCO,
    ),
    'cityscapes': _Family(
        raw_max=18,
        raw_ignore=255,
        forced=(0, 18, 11),
        stem='{city}_000000_{i:06d}',
        image='leftImg8bit/val/{city}/{stem}_leftImg8bit.png',
        label='gtFine/val/{city}/{stem}_gtFine_labelTrainIds.png',
    ),
    'ade150': _Family(
        raw_max=150,
        raw_ignore=None,
        forced=(0, 150, 1),
        stem='ADE_val_{n:08d}',
        image='images/validation/{stem}.jpg',
        label='annotations/validation/{stem}.png',
    ),
    # Values 255 and 256 are real classes of the 16-bit benchmarks: they must survive loading.
    'ade847': _Family(
        raw_max=846,
        raw_ignore=65535,
        forced=(0, 255, 256, 846, 300),
        stem='ADE_val_{n:08d}',
        image='images_detectron2/validation/{stem}.jpg',
        label='annotations_detectron2/validation/{stem}.tif',
    ),
    'context459': _Family(
        raw_max=458,
        raw_ignore=65535,
        forced=(0, 255, 256, 458),
        label='annotations_detectron2/pc459_val/{stem}.tif',
        split_file='pascalcontext_val.txt',  # where CAT-Seg keeps it
        **_VOC2010,
    ),
}
_CITIES = ('frankfurt', 'lindau', 'munster')

BENCHMARKS: dict[str, BenchmarkSpec] = {
    'voc21': BenchmarkSpec('voc', 'VOCdevkit/VOC2012', 21),
    'voc20': BenchmarkSpec('voc', 'VOCdevkit/VOC2012', 20, reduce_zero_label=True),
    'context60': BenchmarkSpec('context', 'VOCdevkit/VOC2010', 60),
    'context59': BenchmarkSpec('context', 'VOCdevkit/VOC2010', 59, reduce_zero_label=True),
    'coco_object': BenchmarkSpec('coco_object', 'coco_stuff164k', 81),
    'coco_stuff171': BenchmarkSpec('coco_stuff', 'coco_stuff164k', 171),
    'cityscapes': BenchmarkSpec('cityscapes', 'cityscapes', 19),
    'ade150': BenchmarkSpec('ade150', 'ade/ADEChallengeData2016', 150, reduce_zero_label=True),
    'ade847': BenchmarkSpec('ade847', 'ADE20K_2021_17_01', 847, ignore_index=65535),
    'context459': BenchmarkSpec('context459', 'VOCdevkit/VOC2010', 459, ignore_index=65535),
}

_GRID = 4  # label maps are a _GRID x _GRID mosaic of class cells
_IGNORE_ROWS = 3  # bottom rows set to the raw ignore value


def _spec(name: str) -> BenchmarkSpec:
    if name not in BENCHMARKS:
        raise ValueError(f'unknown benchmark {name!r}; choose from {sorted(BENCHMARKS)}')
    return BENCHMARKS[name]


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _raw_label(family: str, index: int, size: tuple[int, int], seed: int) -> np.ndarray:
    """(H, W) raw label map as stored on disk (uint8, or uint16 for >255 classes)."""
    spec = _FAMILIES[family]
    rng = _rng(seed, f'{family}/{index}')
    cells = rng.integers(0, spec.raw_max + 1, size=_GRID * _GRID)
    cells[: len(spec.forced)] = spec.forced
    cells = rng.permutation(cells).reshape(_GRID, _GRID)
    height, width = size
    rows = np.arange(height) * _GRID // height
    cols = np.arange(width) * _GRID // width
    dtype = np.uint16 if spec.raw_max > 255 else np.uint8
    label = cells[rows][:, cols].astype(dtype)
    if spec.raw_ignore is not None:
        label[-_IGNORE_ROWS:] = spec.raw_ignore
    return label


def _image(key: str, size: tuple[int, int], seed: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB test image, a function of its file name only (shared files agree)."""
    rng = _rng(seed, key)
    height, width = size
    ramp = np.linspace(0, 1, width)[None, :, None] * rng.uniform(40, 200, 3)
    noise = rng.normal(0, 20, (height, width, 3))
    return np.clip(30 + ramp + noise, 0, 255).astype(np.uint8)


def _decode(spec: BenchmarkSpec, raw: np.ndarray) -> np.ndarray:
    """Applies the dataset's label conventions to a raw map; returns int64 class indices."""
    label = raw.astype(np.int64)
    if spec.reduce_zero_label:
        ignored = (label == 0) | (label == 255)
        label = label - 1
        label[ignored] = spec.ignore_index
    return label


@dataclass(frozen=True)
class _Sample:
    image: str  # path relative to data_root
    label: str  # path relative to data_root
    stem: str  # id written to split files


def _samples(family: str, num_images: int) -> list[_Sample]:
    """File names of each family, following the real benchmarks' naming."""
    spec = _FAMILIES[family]
    samples = []
    for i in range(num_images):
        fields = dict(i=i, n=i + 1, city=_CITIES[i % len(_CITIES)])
        stem = spec.stem.format(**fields)
        image, label = (pattern.format(stem=stem, **fields) for pattern in (spec.image, spec.label))
        samples.append(_Sample(image, label, stem))
    return samples


def _voc_palette() -> list[int]:
    """PASCAL VOC's 256-colour label palette (bit-interleaved class index), flattened RGB."""
    palette = []
    for index in range(256):
        rgb, value = [0, 0, 0], index
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette.extend(rgb)
    return palette


def _save_label(path: Path, label: np.ndarray, family: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if label.dtype == np.uint16:
        Image.fromarray(label).save(path, format='TIFF')  # mode I;16, as MaskFormer's converters
    elif family == 'voc':
        image = Image.fromarray(label)
        image.putpalette(_voc_palette())  # an indexed PNG, as the VOC release ships
        image.save(path)
    else:
        Image.fromarray(label).save(path)


def _iter_files(
    name: str, num_images: int, size: tuple[int, int], seed: int
) -> Iterator[tuple[_Sample, np.ndarray]]:
    family = _spec(name).family
    for i, sample in enumerate(_samples(family, num_images)):
        yield sample, _raw_label(family, i, size, seed)


def write_benchmark_dataset(
    name: str, root: Path, num_images: int = 2, size: tuple[int, int] = (40, 56), seed: int = 0
) -> Path:
    """Writes a tiny copy of benchmark ``name`` under ``root`` (which plays the ``data/`` folder).

    Args:
        name: One of ``BENCHMARKS``: voc21, voc20, context60, context59, coco_object,
            coco_stuff171, cityscapes, ade150, ade847, context459.
        root: Folder to write into; created if missing.
        num_images: Number of validation images.
        size: (height, width) of every image.
        seed: Seed of the random images and label maps.

    Returns:
        The benchmark's ``data_root`` (e.g. ``root/'VOCdevkit/VOC2012'``).
    """
    spec = _spec(name)
    data_root = Path(root) / spec.data_root
    samples = []
    for sample, raw in _iter_files(name, num_images, size, seed):
        image_path = data_root / sample.image
        image_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_image(image_path.name, size, seed)).save(image_path)
        _save_label(data_root / sample.label, raw, spec.family)
        samples.append(sample)
    family = _FAMILIES[spec.family]
    if family.split_file is not None:
        split_file = data_root / family.split_file
        split_file.parent.mkdir(parents=True, exist_ok=True)
        split_file.write_text(''.join(f'{sample.stem}\n' for sample in samples))
    if family.extra_image is not None:
        extra = data_root / family.extra_image
        Image.fromarray(_image(extra.name, size, seed)).save(extra)
    return data_root


def expected_gt_sem_seg(
    name: str, num_images: int = 2, size: tuple[int, int] = (40, 56), seed: int = 0
) -> dict[str, np.ndarray]:
    """Class-index maps the dataset pipeline must load from ``write_benchmark_dataset``'s files.

    Args:
        name, num_images, size, seed: As given to ``write_benchmark_dataset``.

    Returns:
        Image file name (e.g. '2007_000000.jpg') -> (H, W) int64 map of class indices in
        ``[0, num_classes)`` or the benchmark's ignore index.
    """
    spec = _spec(name)
    return {
        Path(sample.image).name: _decode(spec, raw)
        for sample, raw in _iter_files(name, num_images, size, seed)
    }
