"""Dataset class tables read from the shipped class files: one source of truth.

The class names of the benchmarks live in ``dense_clip/data/classnames/<name>.txt`` (what the
models segment); datasets read their ``METAINFO`` from the same files, lazily, through
:class:`ClassListMetainfo`. ADE-847's ADE20K object ids (what its converter needs) are in
``dense_clip/data/ade847_object_ids.txt``, row ``i`` for train id ``i`` (MaskFormer's
``datasets/prepare_ade20k_full_sem_seg.py`` order, which CAT-Seg evaluates on).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from dense_clip.models.text import Vocabulary

__all__ = ['ClassListMetainfo', 'ade847_object_ids', 'make_palette', 'shipped_class_names']

ADE847_IDS_FILE = Path(__file__).resolve().parents[2] / 'data' / 'ade847_object_ids.txt'


def make_palette(num_classes: int, seed: int) -> list[list[int]]:
    """A fixed pseudo-random RGB palette (for visualisation only)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_classes, 3)).tolist()


@cache
def shipped_class_names(name: str) -> tuple[str, ...]:
    """The class names of a shipped class list (``Vocabulary.load(name).class_names``)."""
    return Vocabulary.load(name).class_names


@cache
def ade847_object_ids() -> tuple[int, ...]:
    """ADE20K 2021 object id of each ADE-847 train id (847 ints)."""
    ids = tuple(int(line) for line in ADE847_IDS_FILE.read_text().split())
    if len(ids) != 847:
        raise ValueError(f'{ADE847_IDS_FILE}: expected 847 object ids, found {len(ids)}')
    return ids


class ClassListMetainfo:
    """A ``METAINFO`` class attribute filled from a shipped class list on first access.

    Args:
        name: the class list (e.g. ``'ade847'``).
        palette_seed: seed of the visualisation palette.
    """

    def __init__(self, name: str, palette_seed: int) -> None:
        self.name = name
        self.palette_seed = palette_seed

    def __get__(self, obj: object, owner: type) -> dict:
        classes = shipped_class_names(self.name)
        return dict(classes=classes, palette=make_palette(len(classes), self.palette_seed))
