"""Which weights a config names, and which zoo entries provide them.

A config names weights through: a CLIP's ``pretrained`` (an open_clip tag, a file, or
``zoo://NAME``), a proxy / teacher model with ``pretrained=True`` or a ``checkpoint``, and any
string under ``checkpoint`` / ``pretrained`` / ``load_from`` / ``weights`` (mmengine ``init_cfg``
included; embedded ``dense_clip:NAME`` weights excepted).
Each reference is reported under the config key that takes a ``zoo://NAME`` value, e.g.
``model.clip.pretrained``, ``model.head.checkpoint``,
``model.encoder.last_block.proxy.checkpoint``, ``load_from``. A config entry in a metafile maps
those keys to weight entries (``Zoo Weights``); ``coverage_problems`` checks that every reference
of a config is either a ``zoo://`` name or mapped to a fitting entry. A path under ``work_dirs/``
is the output of another config of this repository (e.g. F-ViT on the CLIP that a CLIPSelf config
writes), not a download: it is reported as kind 'output' and needs no zoo entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ZooError
from .index import ConfigEntry, WeightEntry, ZooIndex, is_zoo_uri, strip_scheme

__all__ = ['WeightRef', 'config_weight_refs', 'coverage_problems', 'needed_weights',
           'cfg_options_for']

#: Keys whose string values name a weight file (``weights``: a whole model's, e.g. CAT-Seg's).
FILE_KEYS = ('checkpoint', 'pretrained', 'load_from', 'weights')
#: Weights shipped inside the package (``dense_clip:NAME``): nothing to download.
EMBEDDED_PREFIX = 'dense_clip:'
_PROXY_KEYS = ('proxy', 'teacher')


@dataclass(frozen=True)
class WeightRef:
    """One weight reference of a config.

    Attributes:
        key: the config key that takes a ``zoo://NAME`` value (dotted, list items by index).
        kind: 'zoo' (already ``zoo://NAME``), 'clip' (an open_clip model/tag), 'proxy' (a proxy
            type with its published weights), 'output' (a file under ``work_dirs/`` that another
            config writes) or 'file' (a path or URL).
        value: ``zoo://NAME``, 'ViT-B-16/openai', 'dino_vitb8' or the path.
    """

    key: str
    kind: str
    value: str


def _proxy_types() -> set[str]:
    from dense_clip.models.proxy import PROXY_MODELS

    return set(PROXY_MODELS.module_dict)


def config_weight_refs(cfg: Mapping[str, Any]) -> list[WeightRef]:
    """Every weight reference of a loaded config (``mmengine.Config`` or dict)."""
    refs: list[WeightRef] = []
    proxies = _proxy_types()
    if isinstance(cfg.get('load_from'), str):
        refs.append(_file_ref('load_from', cfg['load_from']))
    if isinstance(cfg.get('model'), Mapping):
        refs.extend(_walk(cfg['model'], 'model', proxies))
    return refs


#: Where configs write their outputs; a weight file there comes from another config's run.
OUTPUT_DIR = 'work_dirs/'


def _file_ref(key: str, value: str) -> WeightRef:
    if is_zoo_uri(value):
        return WeightRef(key, 'zoo', value)
    return WeightRef(key, 'output' if value.startswith(OUTPUT_DIR) else 'file', value)


def _walk(node: Any, path: str, proxies: set[str]) -> Iterator[WeightRef]:
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            yield from _walk(item, f'{path}.{i}', proxies)
        return
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        here = f'{path}.{key}'
        if key == 'clip' and isinstance(value, Mapping):
            ref = _clip_ref(value, here)
            if ref is not None:
                yield ref
            continue
        if key in _PROXY_KEYS and isinstance(value, Mapping) and value.get('type') in proxies:
            checkpoint = value.get('checkpoint')
            if isinstance(checkpoint, str) and checkpoint:
                yield _file_ref(f'{here}.checkpoint', checkpoint)
            elif value.get('pretrained') and not value.get('tiny'):
                yield WeightRef(f'{here}.checkpoint', 'proxy', str(value['type']))
            continue
        if key in FILE_KEYS and isinstance(value, str) and value:
            if value.startswith(EMBEDDED_PREFIX):
                continue
            yield _file_ref(here, value)
            continue
        yield from _walk(value, here, proxies)


def _clip_ref(clip: Mapping[str, Any], path: str) -> WeightRef | None:
    from dense_clip.models.clip_source import EMBEDDED_MODELS

    pretrained = clip.get('pretrained')
    if clip.get('model_name') in EMBEDDED_MODELS or not isinstance(pretrained, str):
        return None
    key = f'{path}.pretrained'
    if is_zoo_uri(pretrained):
        return WeightRef(key, 'zoo', pretrained)
    from dense_clip.models.clip.loading import looks_like_file

    if clip.get('model_name') is None or looks_like_file(pretrained):
        return _file_ref(key, pretrained)
    return WeightRef(key, 'clip', f'{clip["model_name"]}/{pretrained}')


def _fits(ref: WeightRef, entry: WeightEntry) -> bool:
    if ref.kind == 'clip':
        arch, tag = ref.value.split('/', 1)
        if not entry.open_clip:
            return False
        want_arch, want_tag = entry.open_clip.split('/', 1)
        return (arch.removesuffix('-quickgelu') == want_arch.removesuffix('-quickgelu')
                and tag == want_tag)
    if ref.kind == 'proxy':
        return entry.proxy == ref.value
    return os.path.basename(ref.value.split('?')[0]) == entry.file_name


def _load_config(path: str | os.PathLike) -> Any:
    from mmengine.config import Config

    if not os.path.isfile(path):
        raise ZooError(f'config file not found: {path}')
    return Config.fromfile(str(path))


def coverage_problems(config: str | os.PathLike, index: ZooIndex) -> list[str]:
    """Why a config's weights are not (all) named through the zoo; empty when they are.

    Every reference must be a ``zoo://`` name of a weight entry, or be mapped by the config's
    metafile entry to a weight entry that fits it (same open_clip model/tag, proxy type, or
    file name); every mapped key must be a reference of the config.
    """
    refs = config_weight_refs(_load_config(config))
    entry = index.config_entry(config)
    mapped = dict(entry.weights) if entry else {}
    name = os.path.relpath(config, index.root)
    problems = []
    for ref in refs:
        target = mapped.get(ref.key)
        if ref.kind == 'output':
            continue
        if ref.kind == 'zoo':
            if strip_scheme(ref.value) not in index.weights:
                problems.append(f'{name}: {ref.key} = {ref.value!r} is not a weight entry')
            elif target is not None and target != strip_scheme(ref.value):
                problems.append(f'{name}: {ref.key} = {ref.value!r} but Zoo Weights maps it to '
                                f'{target!r}')
            continue
        if target is None:
            problems.append(f'{name}: {ref.key} = {ref.value!r} is not mapped to a zoo name '
                            '(add the config to its metafile with Zoo Weights)')
        elif not _fits(ref, index.weights[target]):
            problems.append(f'{name}: {ref.key} = {ref.value!r} is mapped to {target!r}, '
                            'which is other weights')
    for key in sorted(set(mapped) - {r.key for r in refs}):
        problems.append(f'{name}: Zoo Weights maps {key}, which the config does not set')
    return problems


def needed_weights(target: str, index: ZooIndex) -> tuple[list[WeightEntry], ConfigEntry | None,
                                                          list[WeightRef]]:
    """The weight entries a zoo name or a config file needs.

    Args:
        target: a weight entry name, a config entry name, or a config file path.

    Returns:
        (weight entries in order, the config entry or None, the config's references).

    Raises:
        ZooError: unknown name (close matches listed); a config that names no weights; a config
            whose weights are not mapped to zoo names.
    """
    looks_like_path = target.endswith('.py') or os.sep in target or os.path.isfile(target)
    if not looks_like_path:
        entry = index.entry(target)
        if isinstance(entry, WeightEntry):
            return [entry], None, []
        return _unique(index, entry.weights.values()), entry, []
    refs = config_weight_refs(_load_config(target))
    entry = index.config_entry(target)
    if not refs:
        raise ZooError(f'config {target} names no weights (its models are embedded, random or '
                       'trained from scratch): nothing to download')
    mapped = dict(entry.weights) if entry else {}
    names, unmapped = [], []
    for ref in refs:
        if ref.kind == 'output':
            continue
        if ref.kind == 'zoo':
            names.append(strip_scheme(ref.value))
        elif ref.key in mapped:
            names.append(mapped[ref.key])
        else:
            unmapped.append(f'{ref.key} = {ref.value!r}')
    if unmapped:
        raise ZooError(f'config {target} names weights that are not in the zoo: '
                       f'{", ".join(unmapped)}; add the config to its method metafile')
    return _unique(index, names), entry, refs


def _unique(index: ZooIndex, names: Any) -> list[WeightEntry]:
    seen: dict[str, WeightEntry] = {}
    for name in names:
        seen.setdefault(name, index.weight(name))
    return list(seen.values())


def cfg_options_for(refs: list[WeightRef], entry: ConfigEntry | None) -> list[str]:
    """``key=zoo://NAME`` overrides that make a config load its weights through the zoo."""
    if entry is None:
        return []
    return [f'{ref.key}=zoo://{entry.weights[ref.key]}' for ref in refs
            if ref.kind != 'zoo' and ref.key in entry.weights]


def relative_config(path: str | os.PathLike, index: ZooIndex) -> str:
    """A config path relative to the zoo root when inside it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(index.root))
    except ValueError:
        return str(path)
