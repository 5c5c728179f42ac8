"""Class vocabularies: each class is one or more synonyms, scored by the best of them.

The file format is the one of the training-free CLIP segmentation repos (SCLIP, NACLIP,
ClearCLIP ``configs/cls_*.txt``): one class per line, synonyms separated by commas, e.g.::

    aeroplane
    person, person in shirt, person in jeans
    background: sky, wall, tree

A line may start with ``name:`` to name the class separately from its synonyms (used for a
background class made of stuff names, as SCLIP/NACLIP do for VOC21 and COCO-Object), so a
synonym cannot contain ``':'``. Without it the class is named by its synonyms joined with
``', '``, as ADE-847 names its classes. Class names are compared case-insensitively and must be
unique; a synonym may appear in several classes (SCLIP's COCO-Object list has "bed" both as a
class and as a background synonym).

The benchmark lists ship with the package (``dense_clip/data/classnames``, see its README for
where each list comes from) and are reached by name through :func:`classnames_path`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Union

import torch

__all__ = [
    'CLASSNAMES_DIR', 'Vocabulary', 'available_classnames', 'build_vocabulary', 'classnames_path',
    'image_vocabulary',
]

CLASSNAMES_DIR = Path(__file__).resolve().parents[2] / 'data' / 'classnames'
BACKGROUND_NAME = 'background'


def available_classnames() -> list[str]:
    """Returns the names of the class lists shipped with dense_clip (e.g. ``'voc21'``)."""
    return sorted(path.stem for path in CLASSNAMES_DIR.glob('*.txt'))


def classnames_path(name: str) -> Path:
    """Returns the path of a shipped class list.

    Args:
        name: One of :func:`available_classnames`: ``'voc21'``, ``'voc20'``, ``'context60'``,
            ``'context59'``, ``'coco_object'``, ``'coco_stuff171'``, ``'cityscapes'``,
            ``'ade150'``, ``'ade847'``, ``'context459'``.

    Raises:
        ValueError: If no list has that name; the message lists the valid names.
    """
    path = CLASSNAMES_DIR / f'{name}.txt'
    if not path.is_file():
        raise ValueError(f'unknown class list {name!r}; valid names: '
                         f'{", ".join(available_classnames())}')
    return path


def _parse_class(entry: str | Sequence[str], where: str) -> tuple[str, tuple[str, ...]]:
    """Parses one class into (name, synonyms); ``where`` locates it in error messages."""
    name = None
    if isinstance(entry, str):
        head, colon, rest = entry.partition(':')
        if colon:
            name, entry = ' '.join(head.split()), rest
            if not name:
                raise ValueError(f'{where}: empty class name before ":" in {head + colon + rest!r}')
        parts = entry.split(',')
    else:
        parts = list(entry)
    synonyms = tuple(' '.join(str(part).split()) for part in parts)
    if not synonyms or any(not s for s in synonyms):
        raise ValueError(f'{where}: empty class name or synonym in {entry!r}')
    return name or ', '.join(synonyms), synonyms


class Vocabulary:
    """An ordered list of classes, each a tuple of synonyms.

    A class's score is the maximum over its synonyms (:func:`reduce_synonyms`); the text
    classifier holds one embedding per synonym, in :attr:`synonyms` order.

    Args:
        classes: One entry per class: a string ``'syn1, syn2'`` (optionally ``'name: syn1,
            syn2'``) or a sequence of synonyms.
        background: Optional background class put first (index 0): a string as above, or a
            sequence of synonyms. It is named ``'background'`` unless the string names it.

    Raises:
        ValueError: If the vocabulary is empty, a class or synonym is empty, or two classes
            share a name (compared after stripping and lower-casing; the message names them).
    """

    def __init__(self, classes: Sequence[str | Sequence[str]],
                 background: str | Sequence[str] | None = None) -> None:
        if isinstance(classes, str):
            raise TypeError('classes must be a sequence of classes, not one string; '
                            'use Vocabulary.from_file for a path')
        parsed = [_parse_class(entry, f'class {i}') for i, entry in enumerate(classes)]
        self._init(parsed, background)

    def _init(self, parsed: list[tuple[str, tuple[str, ...]]],
              background: str | Sequence[str] | None) -> None:
        if background is not None:
            name, synonyms = _parse_class(background, 'background')
            if not isinstance(background, str) or ':' not in background:
                name = BACKGROUND_NAME
            parsed = [(name, synonyms)] + parsed
        if not parsed:
            raise ValueError('the vocabulary is empty: give at least one class')
        counts = Counter(name.strip().lower() for name, _ in parsed)
        duplicates = sorted(name for name, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f'duplicate class names in the vocabulary: {duplicates}')
        self._names = tuple(name for name, _ in parsed)
        self._synonyms = tuple(synonyms for _, synonyms in parsed)
        self._flat = tuple(s for synonyms in self._synonyms for s in synonyms)
        self._index = tuple(i for i, synonyms in enumerate(self._synonyms) for _ in synonyms)

    @classmethod
    def from_file(cls, path: str | os.PathLike,
                  background: str | Sequence[str] | None = None) -> Vocabulary:
        """Reads a vocabulary file: one class per line, synonyms separated by commas.

        Raises:
            FileNotFoundError: If the file does not exist (the message names it).
            ValueError: On a blank line (the message gives its number) or any error of
                :class:`Vocabulary`.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f'vocabulary file not found: {path}')
        lines = path.read_text(encoding='utf-8').splitlines()
        while lines and not lines[-1].strip():  # a trailing newline (or several) is fine
            lines.pop()
        parsed = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                raise ValueError(f'{path}:{number}: blank line; every line must name a class')
            parsed.append(_parse_class(line, f'{path}:{number}'))
        vocabulary = cls.__new__(cls)
        vocabulary._init(parsed, background)
        return vocabulary

    @classmethod
    def load(cls, name_or_path: str | os.PathLike,
             background: str | Sequence[str] | None = None) -> Vocabulary:
        """Loads a shipped class list by name (see :func:`classnames_path`) or a file by path."""
        if isinstance(name_or_path, str) and (CLASSNAMES_DIR / f'{name_or_path}.txt').is_file():
            return cls.from_file(classnames_path(name_or_path), background)
        if not Path(name_or_path).is_file():
            raise FileNotFoundError(f'vocabulary file not found: {name_or_path} (nor is it a '
                                    f'shipped class list: {", ".join(available_classnames())})')
        return cls.from_file(name_or_path, background)

    @property
    def class_names(self) -> tuple[str, ...]:
        """One name per class, in class-index order."""
        return self._names

    @property
    def class_synonyms(self) -> tuple[tuple[str, ...], ...]:
        """The synonyms of each class, in class-index order."""
        return self._synonyms

    @property
    def synonyms(self) -> tuple[str, ...]:
        """All synonyms, flattened class by class (the rows of the text classifier)."""
        return self._flat

    @property
    def synonym_to_class(self) -> tuple[int, ...]:
        """For each entry of :attr:`synonyms`, the index of its class."""
        return self._index

    def synonym_index(self, device: torch.device | str | None = None) -> torch.Tensor:
        """:attr:`synonym_to_class` as an int64 tensor of shape (num_synonyms,)."""
        return torch.tensor(self.synonym_to_class, dtype=torch.long, device=device)

    @property
    def num_classes(self) -> int:
        return len(self._names)

    @property
    def num_synonyms(self) -> int:
        return len(self._flat)

    @property
    def background_index(self) -> int | None:
        """The index of the class named ``'background'`` (any case), or None."""
        for i, name in enumerate(self._names):
            if name.strip().lower() == BACKGROUND_NAME:
                return i
        return None

    def __len__(self) -> int:
        return self.num_classes

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._names == other._names and self._synonyms == other._synonyms

    def __hash__(self) -> int:
        return hash((self._names, self._synonyms))

    def __repr__(self) -> str:
        shown = ', '.join(repr(name) for name in self._names[:5])
        more = ', ...' if self.num_classes > 5 else ''
        return (f'Vocabulary({self.num_classes} classes, {self.num_synonyms} synonyms: '
                f'[{shown}{more}])')


VocabularySource = Union['Vocabulary', str, os.PathLike, Sequence, Mapping]


def build_vocabulary(source: VocabularySource) -> Vocabulary:
    """The one way dense_clip turns a vocabulary setting into a :class:`Vocabulary`.

    Args:
        source: a :class:`Vocabulary` (returned as is); a shipped list name (``'voc21'``, see
            :func:`available_classnames`) or a path to a class file; a sequence of classes (each
            ``'syn1, syn2'``, ``'name: syn1, syn2'`` or a sequence of synonyms); or a mapping
            ``dict(classnames=<any of the above but a mapping>, background=<optional class>)``.

    Returns:
        The vocabulary.

    Raises:
        ValueError: a string that is neither a shipped list nor an existing file (the message
            lists the shipped names), or any error of :class:`Vocabulary`.
        TypeError: an unsupported type.
    """
    if isinstance(source, Vocabulary):
        return source
    background = None
    if isinstance(source, Mapping):
        unknown = set(source) - {'classnames', 'background'}
        if 'classnames' not in source or unknown:
            raise ValueError("a vocabulary dict has the keys 'classnames' and optionally "
                             f"'background', got {sorted(source)}")
        source, background = source['classnames'], source.get('background')
        if isinstance(source, Vocabulary):
            source = [list(synonyms) for synonyms in source.class_synonyms]
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if (CLASSNAMES_DIR / f'{name}.txt').is_file() or Path(name).is_file():
            return Vocabulary.load(name, background)
        raise ValueError(f'vocabulary {name!r} is neither a shipped class list '
                         f'({", ".join(available_classnames())}) nor an existing file')
    if isinstance(source, Sequence):
        return Vocabulary(list(source), background)
    raise TypeError(f'cannot build a vocabulary from {type(source).__name__}')


def image_vocabulary(metainfo: Mapping | None, default: VocabularySource | None) -> Vocabulary:
    """The vocabulary of one image: its own (``metainfo['vocabulary']``), else ``default``.

    Raises:
        ValueError: neither is set (the message says where to set one).
    """
    source = (metainfo or {}).get('vocabulary')
    if source is None:
        source = default
    if source is None:
        raise ValueError("no vocabulary: set model.text.vocabulary, the dataset config's "
                         '`classnames`, or a per-image vocabulary')
    return build_vocabulary(source)
