"""``resolve('zoo://NAME')``: the one function that turns a zoo name into a verified local file.

For a weight entry it finds the upstream file in the cache (checking its sha256 against the
record written when it was fetched, and against the published digests), downloads it when it is
missing or corrupted (plain URLs: ``dense_clip.zoo.http``; Hugging Face: ``dense_clip.zoo.hub``),
and, for an entry with a converter, converts it once and caches the safetensors. Offline
(``DENSE_CLIP_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``) nothing is requested; a missing file is an
error that says which file to place where. ``plan()`` reports the same without fetching.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mmengine.logging import print_log

from .cache import (
    converted_path,
    download_path,
    ensure_writable,
    file_digests,
    format_size,
    is_offline,
    read_record,
    record_path,
    write_record,
)
from .errors import ZooError
from .http import download_url
from .hub import HubCorruption, hub_download, hub_file_url
from .index import WeightEntry, ZooIndex, load_index

__all__ = ['resolve', 'plan', 'PlannedFile', 'get_converter']


def resolve(name: str, *, offline: bool | None = None, index: ZooIndex | None = None) -> Path:
    """The local, verified file of the weight entry ``name`` (``zoo://`` prefix allowed).

    Args:
        name: a weight entry's name.
        offline: never use the network (default: ``DENSE_CLIP_OFFLINE`` / ``HF_HUB_OFFLINE``).
        index: the zoo (default: ``load_index()``).

    Returns:
        The converted safetensors file for entries with ``Convert``, else the upstream file
        (plain URLs: under ``$DENSE_CLIP_CACHE/zoo``; hub files: in the hub cache).

    Raises:
        ZooError: unknown name (close matches listed), download or checksum failure, missing
            file while offline (which file to place where), unwritable or full cache folder,
            unregistered or failing converter.
    """
    index = index or load_index()
    entry = index.weight(name)
    offline = is_offline() if offline is None else offline
    if entry.converter:
        return _converted(entry, offline)
    return _source(entry, offline)[0]


def get_converter(name: str):
    """The registered converter ``name``.

    Raises:
        ZooError: not registered (yet); the message lists the registered ones.
    """
    from dense_clip.registry import WEIGHT_CONVERTERS

    converter = WEIGHT_CONVERTERS.get(name)
    if converter is None:
        raise ZooError(f'converter {name!r} is not registered (registered: '
                       f'{sorted(WEIGHT_CONVERTERS.module_dict)}); it must be registered in '
                       'dense_clip.registry.WEIGHT_CONVERTERS before this entry can be used')
    return converter


# ---------------------------------------------------------------------- sources
def _source(entry: WeightEntry, offline: bool) -> tuple[Path, str]:
    """(path, sha256) of the verified upstream file."""
    return _hub_source(entry, offline) if entry.on_hub else _url_source(entry, offline)


def _hub_source(entry: WeightEntry, offline: bool) -> tuple[Path, str]:
    try:
        path, digests, commit = hub_download(entry, offline=offline)
    except HubCorruption as err:
        if offline:
            raise ZooError(f'{err}; cannot fetch it again while offline') from None
        print_log(f'zoo: {err}; fetching it again', logger='current', level=30)
        _set_aside(err.blob)
        err.link.unlink(missing_ok=True)
        try:
            path, digests, commit = hub_download(entry, offline=False, force=True)
        except HubCorruption as again:
            raise ZooError(f'{again} (again after a fresh download: the upstream file differs '
                           f'from the published checksum of {entry.metafile})') from None
    print_log(f'zoo: {entry.name}: {entry.hf_repo}/{entry.hf_file} at commit {commit or "?"} '
              f'(sha256 {digests["sha256"]})', logger='current')
    return path, digests['sha256']


def _set_aside(path: Path) -> Path:
    """Renames a file that failed its check to ``<name>.corrupt`` (kept, never loaded)."""
    aside = path.with_name(path.name + '.corrupt')
    if path.exists():
        os.replace(path, aside)
    return aside


def _check_cached(entry: WeightEntry, dest: Path) -> str | None:
    """sha256 of a good cached file; None after setting a bad one aside."""
    digests = file_digests(dest, ('sha256', *entry.hashes))
    record = read_record(dest)
    problems = [f'{kind} {digests[kind]} does not match the published {want}'
                for kind, want in entry.hashes.items() if not digests[kind].startswith(want)]
    if record and record.get('sha256') != digests['sha256']:
        problems.append(f'sha256 {digests["sha256"]} differs from the {record.get("sha256")} '
                        'recorded when it was fetched')
    if not problems:
        if record is None:  # placed by hand, as the offline message asks
            write_record(dest, dict(sha256=digests['sha256'], size=dest.stat().st_size,
                                    source=f'placed by hand (upstream {entry.url})',
                                    checked=sorted(entry.hashes), time=time.time()))
            note = 'checked against ' + ', '.join(entry.hashes) if entry.hashes else \
                'no published checksum to check it against; sha256 recorded'
            print_log(f'zoo: {entry.name}: using the file placed at {dest} ({note})',
                      logger='current')
        return digests['sha256']
    aside = _set_aside(dest)
    record_path(dest).unlink(missing_ok=True)
    print_log(f'zoo: {entry.name}: cached file {dest} is corrupted ({"; ".join(problems)}); '
              f'moved to {aside}', logger='current', level=30)
    return None


def _url_source(entry: WeightEntry, offline: bool) -> tuple[Path, str]:
    from filelock import FileLock

    dest = download_path(entry)
    if dest.is_file():
        sha256 = _check_cached(entry, dest)
        if sha256 is not None:
            return dest, sha256
    if entry.manual:
        raise ZooError(f'{entry.name}: {entry.file_name} cannot be downloaded by a program; '
                       f'download it from {entry.url} and place it at {dest}')
    if offline:
        checks = ', '.join(f'{k} {v}' for k, v in entry.hashes.items()) or 'no published checksum'
        raise ZooError(f'{entry.name}: offline (DENSE_CLIP_OFFLINE / HF_HUB_OFFLINE) and '
                       f'{entry.file_name} is not cached: download {entry.url} '
                       f'({format_size(entry.size)}; {checks}) and place it at {dest}')
    part = dest.with_name(dest.name + '.part')
    have = part.stat().st_size if part.is_file() else 0
    ensure_writable(dest.parent, entry.size - have if entry.size else None)
    with FileLock(str(dest) + '.lock'):
        if not dest.is_file():  # another process may have finished it meanwhile
            digests = download_url(entry.url, dest, expected=entry.hashes, size=entry.size,
                                   label=entry.name)
            write_record(dest, dict(sha256=digests['sha256'], size=dest.stat().st_size,
                                    source=entry.url, checked=sorted(entry.hashes),
                                    time=time.time()))
            return dest, digests['sha256']
    sha256 = _check_cached(entry, dest)
    if sha256 is None:
        raise ZooError(f'{entry.name}: {dest} failed its check right after download')
    return dest, sha256


# ---------------------------------------------------------------------- conversion
def _source_sha256_if_cached(entry: WeightEntry) -> str | None:
    """The source's sha256 as known without hashing (record or hub blob name), or None."""
    if entry.on_hub:
        from huggingface_hub import try_to_load_from_cache

        from .hub import hub_cache_dir

        found = try_to_load_from_cache(entry.hf_repo, entry.hf_file,
                                       cache_dir=os.path.expanduser(hub_cache_dir()),
                                       revision=entry.hf_revision, repo_type=entry.hf_repo_type)
        return Path(found).resolve().name if isinstance(found, str) else None
    record = read_record(download_path(entry))
    return record.get('sha256') if record and download_path(entry).is_file() else None


def _converted(entry: WeightEntry, offline: bool) -> Path:
    out = converted_path(entry)
    record = read_record(out)
    if out.is_file() and record and record.get('converter') == entry.converter \
            and record.get('converter_args') == entry.converter_args:
        source_now = _source_sha256_if_cached(entry)
        if source_now in (None, record.get('source_sha256')):
            if file_digests(out)['sha256'] == record.get('sha256'):
                return out
            print_log(f'zoo: {entry.name}: converted file {out} is corrupted; converting again',
                      logger='current', level=30)
    source, source_sha256 = _source(entry, offline)
    converter = get_converter(entry.converter)
    ensure_writable(out.parent)
    from .converters import save_safetensors

    try:
        state = converter(source, **entry.converter_args)
    except Exception as err:  # noqa: BLE001 - any converter failure names the file
        raise ZooError(f'{entry.name}: converter {entry.converter!r} failed on {source}: '
                       f'{type(err).__name__}: {err}') from err
    save_safetensors(state, out)
    write_record(out, dict(sha256=file_digests(out)['sha256'], source=str(source),
                           source_sha256=source_sha256, source_url=entry.url,
                           converter=entry.converter, converter_args=entry.converter_args,
                           time=time.time()))
    print_log(f'zoo: {entry.name}: converted with {entry.converter!r} into {out}',
              logger='current')
    return out


# ---------------------------------------------------------------------- dry run
@dataclass(frozen=True)
class PlannedFile:
    """What ``resolve`` would fetch for one entry (``tools/download.py --dry-run``)."""

    name: str
    url: str
    size: int | None
    destination: Path
    cached: bool
    converted: Path | None
    how: str


def plan(name: str, index: ZooIndex | None = None) -> PlannedFile:
    """Where the entry's file comes from and goes, without any request or file check."""
    index = index or load_index()
    entry = index.weight(name)
    converted = converted_path(entry) if entry.converter else None
    if entry.on_hub:
        from huggingface_hub import try_to_load_from_cache

        from .hub import hub_cache_dir

        cache = Path(os.path.expanduser(hub_cache_dir()))
        found = try_to_load_from_cache(entry.hf_repo, entry.hf_file, cache_dir=str(cache),
                                       revision=entry.hf_revision, repo_type=entry.hf_repo_type)
        folder = f'{entry.hf_repo_type}s--{entry.hf_repo.replace("/", "--")}'
        dest = Path(found) if isinstance(found, str) else \
            cache / folder / 'snapshots' / entry.hf_revision / entry.hf_file
        return PlannedFile(entry.name, hub_file_url(entry), entry.size, dest,
                           isinstance(found, str), converted, 'Hugging Face hub')
    dest = download_path(entry)
    record = read_record(dest)
    size = entry.size or (record or {}).get('size')
    how = 'manual download' if entry.manual else 'http'
    return PlannedFile(entry.name, entry.url, size, dest, dest.is_file(), converted, how)
