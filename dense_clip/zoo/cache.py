"""The zoo's download cache: where files go, their checksum records, and folder checks.

Layout (root ``$DENSE_CLIP_CACHE/zoo``, default ``~/.cache/dense_clip/zoo``)::

    <root>/<entry name>/<upstream file name>             verified download
    <root>/<entry name>/<upstream file name>.part        partial download (resumed by HTTP Range)
    <root>/<entry name>/<upstream file name>.mismatch    a completed download whose checksum failed
    <root>/<entry name>/<entry name>.safetensors          converted weights
    <file>.zoo.json                                       record: sha256, size, source, ...

Hugging Face hub files stay in the hub's own cache (``HF_HUB_CACHE``); their converted weights
and records come here. Every record holds the file's sha256, so a cached file that changed on
disk (a bad disk, an interrupted copy) is detected and fetched again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import ZooError
from .index import WeightEntry

__all__ = ['cache_root', 'download_path', 'converted_path', 'record_path', 'read_record',
           'write_record', 'file_digests', 'digest_mismatches', 'ensure_writable',
           'disk_full_error', 'is_offline', 'format_size']

RECORD_SUFFIX = '.zoo.json'
_CHUNK = 8 << 20


def cache_root() -> Path:
    """``$DENSE_CLIP_CACHE/zoo`` (default ``~/.cache/dense_clip/zoo``), read at each call."""
    base = os.environ.get('DENSE_CLIP_CACHE') or os.path.join('~', '.cache', 'dense_clip')
    return Path(base).expanduser() / 'zoo'


def download_path(entry: WeightEntry) -> Path:
    """Where a plain-URL (or manually placed) file of ``entry`` lives once verified."""
    return cache_root() / entry.name / entry.file_name


def converted_path(entry: WeightEntry) -> Path:
    """Where the converted safetensors of ``entry`` live."""
    return cache_root() / entry.name / f'{entry.name}.safetensors'


def record_path(path: Path) -> Path:
    """The JSON record kept beside a cached file."""
    return path.with_name(path.name + RECORD_SUFFIX)


def read_record(path: Path) -> dict[str, Any] | None:
    """The record of ``path``, or None when there is none or it is unreadable."""
    try:
        record = json.loads(record_path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Writes the record of ``path`` atomically (temporary file, then rename)."""
    target = record_path(path)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix='.tmp', dir=target.parent)
    with os.fdopen(fd, 'w') as handle:
        json.dump(record, handle, indent=1, sort_keys=True)
    os.replace(tmp, target)


def file_digests(path: Path, kinds: tuple[str, ...] = ('sha256',)) -> dict[str, str]:
    """Hex digests of a file in one read: 'sha256', 'md5' and/or 'git-sha1' (a git blob id)."""
    hashers: dict[str, Any] = {}
    for kind in kinds:
        if kind == 'sha256':
            hashers[kind] = hashlib.sha256()
        elif kind == 'md5':
            hashers[kind] = hashlib.md5(usedforsecurity=False)
        elif kind == 'git-sha1':
            hashers[kind] = hashlib.sha1(f'blob {path.stat().st_size}\0'.encode(),
                                         usedforsecurity=False)
        else:
            raise ValueError(f'unknown digest {kind!r}; valid: sha256, md5, git-sha1')
    with open(path, 'rb') as handle:
        while chunk := handle.read(_CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {kind: hasher.hexdigest() for kind, hasher in hashers.items()}


def digest_mismatches(digests: dict[str, str], expected: dict[str, str]) -> list[str]:
    """'kind: expected X, got Y' for every published digest (full or prefix) that differs."""
    return [f'{kind} expected {want}{"..." if len(want) < len(digests[kind]) else ""}, '
            f'got {digests[kind]}'
            for kind, want in expected.items() if not digests[kind].startswith(want)]


def ensure_writable(folder: Path, need_bytes: int | None = None) -> None:
    """Creates ``folder`` and checks it can take a new file of ``need_bytes``.

    Raises:
        ZooError: the folder cannot be created or written (read-only, permissions), or the
            disk has less free space than ``need_bytes``; the message names the folder.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ZooError(f'cache folder {folder} is not writable ({err.strerror or err}); make it '
                       'writable or point DENSE_CLIP_CACHE at a writable folder') from None
    if need_bytes:
        free = shutil.disk_usage(folder).free
        if free < need_bytes:
            raise ZooError(f'not enough disk space in {folder}: the file needs '
                           f'{format_size(need_bytes)}, {format_size(free)} free; free space '
                           'or point DENSE_CLIP_CACHE elsewhere')


def disk_full_error(err: OSError, folder: Path) -> ZooError | None:
    """A ZooError for 'no space left' / 'read-only file system' write errors, else None."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return ZooError(f'disk full while writing into {folder}; the partial file is kept for '
                        'resuming; free space or point DENSE_CLIP_CACHE elsewhere')
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ZooError(f'cache folder {folder} is not writable ({err.strerror}); point '
                        'DENSE_CLIP_CACHE at a writable folder')
    return None


def is_offline() -> bool:
    """True when ``DENSE_CLIP_OFFLINE`` or ``HF_HUB_OFFLINE`` is set to 1/true/yes/on."""
    return any(os.environ.get(var, '').strip().lower() in ('1', 'true', 'yes', 'on')
               for var in ('DENSE_CLIP_OFFLINE', 'HF_HUB_OFFLINE'))


def format_size(size: int | None) -> str:
    """Bytes as '1.25 GB' / '358.0 MB' / '812 B' (decimal units); 'size unknown' for None."""
    if size is None:
        return 'size unknown'
    for unit, scale in (('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if size >= scale:
            return f'{size / scale:.2f} {unit}' if unit == 'GB' else f'{size / scale:.1f} {unit}'
    return f'{size} B'
