"""Base / novel class splits of the open-vocabulary detection benchmarks, kept as data.

A split file (``dense_clip/data/class_splits/<name>.json``) holds ``classes`` (in the category-id
order of the annotation files; an entry is a name or a list of synonyms, canonical name first),
``novel`` (canonical names) and ``source`` (where the lists come from). Shipped splits:

* ``ov_coco``: 65 COCO categories, 48 base + 17 novel (Bansal et al. 2018; OVR-CNN, RegionCLIP,
  F-ViT).
* ``ov_lvis``: the 1203 LVIS v1 categories, novel = the 337 rare ones (ViLD's OV-LVIS).
* ``synthetic``: the synthetic world's 24 colour x texture classes, novel = the 6 unseen ones.

One split feeds both the dataset (its ``metainfo``: classes, base_classes, novel_classes) and the
model (its vocabulary), so the two cannot disagree on the class order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dense_clip.models.text import Vocabulary

__all__ = ['CLASS_SPLITS_DIR', 'ClassSplit', 'available_class_splits', 'load_class_split',
           'prompt_name']

CLASS_SPLITS_DIR = Path(__file__).resolve().parents[1] / 'data' / 'class_splits'


def available_class_splits() -> list[str]:
    """Names of the shipped splits."""
    return sorted(p.stem for p in CLASS_SPLITS_DIR.glob('*.json'))


def prompt_name(name: str) -> str:
    """A dataset category name as written in prompts: ``_`` -> space, ``/`` -> ``' or '``.

    The rule of ViLD-style prompt builders (wusize/CLIPSelf ``F-ViT/tools/clip_utils.py``
    ``processed_name``), needed for LVIS names such as ``'aerosol_can'``.
    """
    return name.replace('_', ' ').replace('/', ' or ').strip()


@dataclass(frozen=True)
class ClassSplit:
    """Classes of a benchmark and which of them are novel.

    Attributes:
        name: the split's name.
        synonyms: per class, its names for prompts (canonical dataset name first).
        novel: canonical names of the novel classes.
        source: where the lists come from.
    """

    name: str
    synonyms: tuple[tuple[str, ...], ...]
    novel: frozenset[str]
    source: str = ''

    @property
    def classes(self) -> tuple[str, ...]:
        """Canonical names (the annotation files' category names), in label order."""
        return tuple(s[0] for s in self.synonyms)

    @property
    def base(self) -> tuple[str, ...]:
        return tuple(c for c in self.classes if c not in self.novel)

    @property
    def novel_classes(self) -> tuple[str, ...]:
        return tuple(c for c in self.classes if c in self.novel)

    def is_novel(self) -> list[bool]:
        """Per class in label order, whether it is novel."""
        return [c in self.novel for c in self.classes]

    def metainfo(self) -> dict:
        """``classes``, ``base_classes`` and ``novel_classes`` for an mmdet dataset."""
        return dict(classes=self.classes, base_classes=self.base,
                    novel_classes=self.novel_classes)

    def vocabulary(self) -> Vocabulary:
        """The classes as a vocabulary: named by the dataset names, prompted by
        :func:`prompt_name` of every synonym (duplicates dropped)."""
        entries = []
        for names in self.synonyms:
            prompts = list(dict.fromkeys(prompt_name(n) for n in names))
            entries.append(f'{names[0]}: {", ".join(prompts)}')
        return Vocabulary(entries)


def _parse(data: Mapping, where: str) -> ClassSplit:
    if 'classes' not in data or 'novel' not in data:
        raise ValueError(f"{where}: a class split needs 'classes' and 'novel', got "
                         f'{sorted(data)}')
    synonyms = []
    for i, entry in enumerate(data['classes']):
        names = (entry,) if isinstance(entry, str) else tuple(entry)
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError(f'{where}: class {i} has an empty name: {entry!r}')
        synonyms.append(names)
    canonical = [s[0] for s in synonyms]
    duplicates = sorted({c for c in canonical if canonical.count(c) > 1})
    if duplicates:
        raise ValueError(f'{where}: duplicate classes {duplicates}')
    unknown = sorted(set(data['novel']) - set(canonical))
    if unknown:
        raise ValueError(f'{where}: novel classes {unknown[:5]} are not among the classes')
    return ClassSplit(str(data.get('name', where)), tuple(synonyms), frozenset(data['novel']),
                      str(data.get('source', '')))


def load_class_split(split: str | os.PathLike | Mapping | ClassSplit) -> ClassSplit:
    """Loads a split by shipped name, JSON path, or dict ``dict(classes=[...], novel=[...])``.

    Raises:
        ValueError: an unknown name (the valid ones are listed) or a malformed split.
    """
    if isinstance(split, ClassSplit):
        return split
    if isinstance(split, Mapping):
        return _parse(split, '<class split dict>')
    if isinstance(split, Sequence) and not isinstance(split, str):
        raise TypeError('a class split is a name, a JSON path or a dict with classes and novel')
    text = os.fspath(split)
    path = CLASS_SPLITS_DIR / f'{text}.json'
    if not path.is_file():
        path = Path(text)
        if not path.is_file():
            raise ValueError(f'unknown class split {text!r}: neither a shipped split '
                             f'({", ".join(available_class_splits())}) nor a JSON file')
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: not valid JSON ({err})') from None
    return _parse(data, str(path))
