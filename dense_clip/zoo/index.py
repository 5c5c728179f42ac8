"""Reads the model zoo from OpenMMLab model-index metafiles.

``model-index.yml`` (top level) imports one ``metafile.yaml`` per method folder under
``configs/``, in the format of OpenMMLab's ``model-index`` package (read by ``mim search``):
``Collections`` (one per method or backbone family: paper, code) and ``Models``. A model entry is
one of two kinds:

* a **weight file** (a zoo name, e.g. ``clip_vit-b16_openai``): ``Weights`` is its upstream URL
  and ``Metadata: Zoo:`` says how to fetch, check and convert it::

      Zoo:
        File: ViT-B-16.pt              # name of the upstream file (default: end of the URL)
        Format: openai-torchscript     # upstream format, free text
        SHA256: 5806e77c...            # published digests, full or prefix: SHA256, MD5, Git SHA1
        Size: 375042383                # bytes, when known
        Convert: openai_clip           # a registered converter (dense_clip.registry)
        Convert Args: {}               # keyword arguments of the converter
        HF Repo: org/name              # a Hugging Face hub file instead of a plain URL, with
        HF File: model.pth             #   HF Revision (default main) and HF Repo Type (model,
                                       #   space or dataset)
        Download: manual               # the file cannot be fetched by a program (a shared
                                       #   folder): the user places it, the zoo checks it
        Open CLIP: ViT-B-16/openai     # the open_clip model/tag these weights are
        QuickGELU: true                # the weights need QuickGELU activations
        Proxy: dino_vitb8              # the proxy model type these weights are for
        Checksum Source: ...           # where a digest comes from when not from upstream

* a **config entry**: ``Config`` is a config under ``configs/`` and ``Metadata: Zoo Weights:``
  maps each config key that names weights to a weight entry, e.g.
  ``model.clip: clip_vit-b16_openai``.

Both kinds may carry ``Results`` (reported numbers; ``Metadata: Results Source`` says whose).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ZooError

__all__ = ['Result', 'WeightEntry', 'ConfigEntry', 'ZooIndex', 'load_index',
           'default_index_path', 'ZOO_SCHEME', 'strip_scheme', 'is_zoo_uri']

ZOO_SCHEME = 'zoo://'
HASH_KINDS = {'SHA256': 'sha256', 'MD5': 'md5', 'Git SHA1': 'git-sha1'}
_HASH_LENGTHS = {'sha256': 64, 'md5': 32, 'git-sha1': 40}
_ZOO_KEYS = {'File', 'Format', 'Size', 'Convert', 'Convert Args', 'HF Repo', 'HF File',
             'HF Revision', 'HF Repo Type', 'Download', 'Open CLIP', 'QuickGELU', 'Proxy',
             'Checksum Source', *HASH_KINDS}
_HF_REPO_TYPES = ('model', 'space', 'dataset')
_DOWNLOAD_MODES = ('auto', 'manual')


def is_zoo_uri(value: object) -> bool:
    """True for strings of the form ``zoo://NAME``."""
    return isinstance(value, str) and value.startswith(ZOO_SCHEME)


def strip_scheme(name: str) -> str:
    """``zoo://NAME`` or ``NAME`` -> ``NAME``."""
    return name[len(ZOO_SCHEME):] if name.startswith(ZOO_SCHEME) else name


@dataclass(frozen=True)
class Result:
    """One reported result: task, benchmark name, metrics (name -> value)."""

    task: str
    dataset: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class WeightEntry:
    """One weight file of the zoo (see the module docstring for the metafile fields)."""

    name: str
    collection: str
    url: str
    file_name: str
    format: str
    hashes: dict[str, str] = field(default_factory=dict)
    size: int | None = None
    converter: str | None = None
    converter_args: dict[str, Any] = field(default_factory=dict)
    hf_repo: str | None = None
    hf_file: str | None = None
    hf_revision: str = 'main'
    hf_repo_type: str = 'model'
    manual: bool = False
    open_clip: str | None = None
    quick_gelu: bool = False
    proxy: str | None = None
    checksum_source: str | None = None
    results: tuple[Result, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    metafile: str = ''

    @property
    def on_hub(self) -> bool:
        """The file lives on the Hugging Face hub (fetched with ``huggingface_hub``)."""
        return self.hf_repo is not None

    @property
    def open_clip_arch(self) -> str | None:
        """The open_clip architecture of ``Open CLIP`` ('ViT-B-16'), or None."""
        return self.open_clip.split('/')[0] if self.open_clip else None


@dataclass(frozen=True)
class ConfigEntry:
    """One config of the zoo: which weight entries its keys need, and its reported results."""

    name: str
    collection: str
    config: str
    weights: dict[str, str] = field(default_factory=dict)
    results: tuple[Result, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    metafile: str = ''


class ZooIndex:
    """All collections, weight entries and config entries of one ``model-index.yml``.

    Args:
        path: the top-level ``model-index.yml``; ``Import`` paths and ``Config`` paths are
            relative to its folder (``root``).

    Raises:
        ZooError: a metafile is missing or malformed; the message names the file and entry.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.collections: dict[str, dict[str, Any]] = {}
        self.weights: dict[str, WeightEntry] = {}
        self.configs: dict[str, ConfigEntry] = {}
        self.files: list[Path] = []
        self._read(self.path)
        self._check_references()

    # ------------------------------------------------------------------ lookup
    def weight(self, name: str) -> WeightEntry:
        """The weight entry called ``name`` (``zoo://`` prefix allowed).

        Raises:
            ZooError: unknown name; the message lists close matches (or, for a config entry's
                name, the weight names that config needs).
        """
        key = strip_scheme(name)
        if key in self.weights:
            return self.weights[key]
        if key in self.configs:
            needs = sorted(set(self.configs[key].weights.values()))
            raise ZooError(f'{key!r} is a config entry, not a weight file; it needs {needs}')
        raise ZooError(self._unknown(key))

    def entry(self, name: str) -> WeightEntry | ConfigEntry:
        """A weight entry or a config entry by name (``zoo://`` prefix allowed)."""
        key = strip_scheme(name)
        found = self.weights.get(key) or self.configs.get(key)
        if found is None:
            raise ZooError(self._unknown(key))
        return found

    def config_entry(self, config: str | os.PathLike) -> ConfigEntry | None:
        """The config entry of a config file (any path to it), or None."""
        target = Path(config).resolve()
        for entry in self.configs.values():
            if (self.root / entry.config).resolve() == target:
                return entry
        return None

    def _unknown(self, key: str) -> str:
        names = sorted([*self.weights, *self.configs])
        close = difflib.get_close_matches(key, names, n=5, cutoff=0.5)
        if not close:  # prefix or substring matches help with short names ('sam', 'dino')
            close = [n for n in names if key.lower() in n.lower()][:5]
        hint = f'; close matches: {", ".join(close)}' if close else ''
        return (f'unknown zoo name {key!r}{hint} ({len(self.weights)} weight files, '
                f'{len(self.configs)} configs in {self.path}; list them with '
                'python tools/download.py --list)')

    # ------------------------------------------------------------------ reading
    def _read(self, path: Path, seen: frozenset[Path] = frozenset()) -> None:
        if path in seen:
            raise ZooError(f'{path}: imported twice (import cycle)')
        if not path.is_file():
            raise ZooError(f'model zoo metafile not found: {path}')
        self.files.append(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ZooError(f'{path}: not valid YAML: {err}') from None
        if not isinstance(data, dict):
            raise ZooError(f'{path}: expected a mapping with Import / Collections / Models')
        for item in data.get('Import') or []:
            self._read((path.parent / item).resolve(), seen | {path})
        for collection in data.get('Collections') or []:
            name = collection.get('Name')
            if not name or name in self.collections:
                raise ZooError(f'{path}: collection without a name or defined twice: {name!r}')
            self.collections[name] = collection
        for model in data.get('Models') or []:
            self._add_model(model, path)

    def _add_model(self, model: dict[str, Any], path: Path) -> None:
        name = model.get('Name')
        where = f'{path}: entry {name!r}'
        if not name or not re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9_.+-]*', name):
            raise ZooError(f'{where}: a Name of letters, digits and _ . + - is required')
        if name in self.weights or name in self.configs:
            raise ZooError(f'{where}: defined twice')
        metadata = dict(model.get('Metadata') or {})
        results = tuple(_results(model.get('Results'), where))
        collection = model.get('In Collection', '')
        relpath = os.path.relpath(path, self.root)
        if model.get('Config'):
            weights = metadata.pop('Zoo Weights', None) or {}
            if not isinstance(weights, dict):
                raise ZooError(f'{where}: Zoo Weights must map config keys to zoo names')
            self.configs[name] = ConfigEntry(name, collection, model['Config'], dict(weights),
                                             results, metadata, relpath)
            return
        zoo = metadata.pop('Zoo', None)
        if not isinstance(zoo, dict):
            raise ZooError(f'{where}: needs either Config (a config entry) or Metadata: Zoo '
                           '(a weight file)')
        self.weights[name] = _weight_entry(name, collection, model.get('Weights'), zoo,
                                           results, metadata, where, relpath)

    def _check_references(self) -> None:
        for entry in self.configs.values():
            for key, target in entry.weights.items():
                if target not in self.weights:
                    raise ZooError(f'{entry.metafile}: config entry {entry.name!r} maps {key} '
                                   f'to {target!r}, which is not a weight entry')
        for entry in [*self.weights.values(), *self.configs.values()]:
            if entry.collection and entry.collection not in self.collections:
                raise ZooError(f'{entry.metafile}: entry {entry.name!r} is in an undefined '
                               f'collection {entry.collection!r}')


def _results(raw: Any, where: str) -> Iterable[Result]:
    if raw is None:
        return
    for item in raw if isinstance(raw, list) else [raw]:
        try:
            metrics = {str(k): float(v) for k, v in item['Metrics'].items()}
            yield Result(str(item['Task']), str(item['Dataset']), metrics)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ZooError(f'{where}: each result needs Task, Dataset and numeric Metrics; '
                           f'got {item!r}') from None


def _weight_entry(name: str, collection: str, url: Any, zoo: dict[str, Any],
                  results: tuple[Result, ...], metadata: dict[str, Any], where: str,
                  relpath: str) -> WeightEntry:
    unknown = sorted(set(zoo) - _ZOO_KEYS)
    if unknown:
        raise ZooError(f'{where}: unknown Zoo fields {unknown}; valid: {sorted(_ZOO_KEYS)}')
    if not isinstance(url, str) or not url.startswith(('https://', 'http://')):
        raise ZooError(f'{where}: Weights must be the upstream http(s) URL, got {url!r}')
    hashes = {}
    for key, kind in HASH_KINDS.items():
        if zoo.get(key) is None:
            continue
        value = str(zoo[key]).lower()
        if not re.fullmatch(r'[0-9a-f]{6,}', value) or len(value) > _HASH_LENGTHS[kind]:
            raise ZooError(f'{where}: {key} must be 6 to {_HASH_LENGTHS[kind]} hex digits, '
                           f'got {zoo[key]!r}')
        hashes[kind] = value
    download = zoo.get('Download', 'auto')
    repo_type = zoo.get('HF Repo Type', 'model')
    if download not in _DOWNLOAD_MODES:
        raise ZooError(f'{where}: Download must be one of {_DOWNLOAD_MODES}, got {download!r}')
    if repo_type not in _HF_REPO_TYPES:
        raise ZooError(f'{where}: HF Repo Type must be one of {_HF_REPO_TYPES}, got '
                       f'{repo_type!r}')
    if bool(zoo.get('HF Repo')) != bool(zoo.get('HF File')):
        raise ZooError(f'{where}: give both HF Repo and HF File, or neither')
    size = zoo.get('Size')
    if size is not None and (not isinstance(size, int) or size <= 0):
        raise ZooError(f'{where}: Size must be a positive number of bytes, got {size!r}')
    file_name = zoo.get('File') or zoo.get('HF File') or url.split('?')[0].rstrip('/')
    file_name = os.path.basename(str(file_name))
    if not file_name:
        raise ZooError(f'{where}: cannot tell the file name; add Zoo: File')
    args = zoo.get('Convert Args') or {}
    if not isinstance(args, dict):
        raise ZooError(f'{where}: Convert Args must be a mapping')
    return WeightEntry(
        name=name, collection=collection, url=url, file_name=file_name,
        format=str(zoo.get('Format', 'unknown')), hashes=hashes, size=size,
        converter=zoo.get('Convert'), converter_args=dict(args), hf_repo=zoo.get('HF Repo'),
        hf_file=zoo.get('HF File'), hf_revision=str(zoo.get('HF Revision', 'main')),
        hf_repo_type=repo_type, manual=download == 'manual', open_clip=zoo.get('Open CLIP'),
        quick_gelu=bool(zoo.get('QuickGELU', False)), proxy=zoo.get('Proxy'),
        checksum_source=zoo.get('Checksum Source'), results=results, metadata=metadata,
        metafile=relpath)


def default_index_path() -> Path:
    """Where the zoo is read from.

    ``DENSE_CLIP_MODEL_INDEX`` if set; else ``model-index.yml`` of the source checkout the
    package is imported from; else the copy an installed package carries in
    ``dense_clip/.mim/model-index.yml`` (written by ``setup.py`` when a wheel is built).
    """
    env = os.environ.get('DENSE_CLIP_MODEL_INDEX')
    if env:
        return Path(env).expanduser()
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent / 'model-index.yml'
    return checkout if checkout.is_file() else package / '.mim' / 'model-index.yml'


_LOADED: dict[str, tuple[tuple[int, ...], ZooIndex]] = {}


def _stamp(files: Iterable[Path]) -> tuple[int, ...]:
    return tuple(p.stat().st_mtime_ns if p.is_file() else -1 for p in files)


def load_index(path: str | os.PathLike | None = None) -> ZooIndex:
    """The zoo index at ``path`` (default: ``default_index_path()``), re-read when a file changes.

    Raises:
        ZooError: no model-index.yml there, or a malformed metafile.
    """
    path = Path(path) if path is not None else default_index_path()
    if not path.is_file():
        raise ZooError(f'model zoo index not found: {path} (set DENSE_CLIP_MODEL_INDEX to a '
                       'model-index.yml)')
    key = str(path.resolve())
    cached = _LOADED.get(key)
    if cached is not None and cached[0] == _stamp(cached[1].files):
        return cached[1]
    index = ZooIndex(key)
    _LOADED[key] = (_stamp(index.files), index)
    return index
