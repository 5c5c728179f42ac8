"""Plain-URL downloads: resume by HTTP Range, retries with backoff, checksum before rename.

One file goes to ``<dest>.part``; a dropped connection, a stalled server (no byte for
``timeout`` seconds) or a 5xx answer is retried ``retries`` times after ``backoff``, 2x
``backoff``, 4x ... seconds, each retry resuming from the bytes already on disk. A complete file
is checked (size and every published digest) before it is renamed to ``<dest>``; a file that
fails the check is renamed to ``<dest>.mismatch`` and never loaded. Client errors (404, 403)
and host names that do not resolve (an offline machine) are not retried.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mmengine.logging import print_log
from tqdm import tqdm

from dense_clip.version import __version__

from .cache import digest_mismatches, disk_full_error, file_digests, format_size
from .errors import ZooError

__all__ = ['HttpSettings', 'download_url']

_CHUNK = 1 << 20


@dataclass(frozen=True)
class HttpSettings:
    """Network settings; ``from_env`` reads ``DENSE_CLIP_ZOO_TIMEOUT`` (seconds without a byte,
    default 60), ``DENSE_CLIP_ZOO_RETRIES`` (default 5) and ``DENSE_CLIP_ZOO_BACKOFF`` (first
    wait in seconds, doubled each retry; default 2)."""

    timeout: float = 60.0
    retries: int = 5
    backoff: float = 2.0

    @classmethod
    def from_env(cls) -> HttpSettings:
        try:
            return cls(float(os.environ.get('DENSE_CLIP_ZOO_TIMEOUT', cls.timeout)),
                       int(os.environ.get('DENSE_CLIP_ZOO_RETRIES', cls.retries)),
                       float(os.environ.get('DENSE_CLIP_ZOO_BACKOFF', cls.backoff)))
        except ValueError as err:
            raise ZooError(f'bad DENSE_CLIP_ZOO_TIMEOUT / _RETRIES / _BACKOFF: {err}') from None


class _Retry(Exception):
    """A transient failure: retry from the bytes already written."""


def download_url(url: str, dest: Path, *, expected: dict[str, str], size: int | None,
                 label: str, settings: HttpSettings | None = None) -> dict[str, str]:
    """Downloads ``url`` to ``dest`` (via ``dest.part``) and checks it before renaming.

    Args:
        url: http(s) URL; redirects are followed.
        dest: final path; its folder must exist and be writable.
        expected: published digests ('sha256' / 'md5' / 'git-sha1' -> hex, full or prefix).
        size: expected size in bytes, or None.
        label: the zoo name, for messages.
        settings: timeouts and retries (default: ``HttpSettings.from_env()``).

    Returns:
        The file's digests: 'sha256' and every kind in ``expected``.

    Raises:
        ZooError: an HTTP client error (e.g. 404), a failure that persists after the retries
            (the partial file is kept for the next attempt), an HTML page instead of a file,
            a full or read-only disk, or a checksum/size mismatch (the file is kept aside as
            ``<dest>.mismatch``).
    """
    settings = settings or HttpSettings.from_env()
    part = dest.with_name(dest.name + '.part')
    print_log(f'zoo: downloading {label} from {url} ({format_size(size)}) to {dest}',
              logger='current')
    attempt = 0
    while True:
        try:
            _fetch_into(url, part, dest, size, label, settings.timeout)
            break
        except _Retry as reason:
            attempt += 1
            have = part.stat().st_size if part.exists() else 0
            if attempt > settings.retries:
                raise ZooError(
                    f'{label}: download of {url} failed after {attempt} attempts ({reason}); '
                    f'{format_size(have)} kept in {part} and resumed next time. If this '
                    f'machine cannot reach the server, download the file elsewhere and place '
                    f'it at {dest}') from None
            wait = settings.backoff * 2 ** (attempt - 1)
            print_log(f'zoo: {label}: {reason}; retry {attempt}/{settings.retries} in '
                      f'{wait:.1f} s, resuming at {have} bytes', logger='current')
            time.sleep(wait)
    digests = file_digests(part, ('sha256', *expected))
    problems = digest_mismatches(digests, expected)
    actual = part.stat().st_size
    if size is not None and actual != size:
        problems.insert(0, f'size expected {size} bytes, got {actual}')
    if problems:
        aside = dest.with_name(dest.name + '.mismatch')
        os.replace(part, aside)
        raise ZooError(f'{label}: checksum mismatch for {url}: {"; ".join(problems)}. The '
                       f'download is kept aside as {aside} and is not used; delete it to retry, '
                       'or report the changed upstream file')
    os.replace(part, dest)
    print_log(f'zoo: {label}: {format_size(actual)} verified (sha256 {digests["sha256"]})',
              logger='current')
    return digests


def _request(url: str, offset: int) -> urllib.request.Request:
    headers = {'User-Agent': f'dense_clip/{__version__} (model zoo)',
               'Accept-Encoding': 'identity'}
    if offset:
        headers['Range'] = f'bytes={offset}-'
    return urllib.request.Request(url, headers=headers)


def _fetch_into(url: str, part: Path, dest: Path, size: int | None, label: str,
                timeout: float) -> None:
    """One attempt: appends the rest of the file to ``part``; raises _Retry on transient errors."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # a stale partial file of another version
        part.unlink()
        offset = 0
    try:
        response = urllib.request.urlopen(_request(url, offset), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to send: the partial file is complete
            return
        if err.code in (408, 429) or err.code >= 500:
            raise _Retry(f'HTTP {err.code} {err.reason}') from None
        hint = ' (the upstream file moved or was removed?)' if err.code in (404, 410) else ''
        raise ZooError(f'{label}: HTTP {err.code} {err.reason} for {url}{hint}') from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, 'reason', err)
        if isinstance(reason, socket.gaierror):  # no DNS: offline, retrying will not help
            raise ZooError(f'{label}: cannot resolve the host of {url} ({reason.strerror}); if '
                           'this machine is offline, download the file elsewhere and place it '
                           f'at {dest} (DENSE_CLIP_OFFLINE=1 skips network attempts)') from None
        if isinstance(reason, TimeoutError):
            raise _Retry(f'no answer within {timeout:g} s (server stalled)') from None
        raise _Retry(f'cannot connect: {reason}') from None
    with response:
        if offset and response.status != 206:  # the server ignored Range: start over
            offset = 0
        elif offset and not _range_starts_at(response.headers.get('Content-Range'), offset):
            part.unlink()
            raise _Retry('the server resumed at the wrong byte; restarting')
        if response.headers.get('Content-Type', '').startswith('text/html'):
            raise ZooError(f'{label}: {url} returned an HTML page instead of the file (a login, '
                           'quota or confirmation page?); download it in a browser and place '
                           f'it at {dest}')
        length = response.headers.get('Content-Length')
        total = offset + int(length) if length and length.isdigit() else size
        _stream(response, part, offset, total, label, timeout)


def _range_starts_at(content_range: str | None, offset: int) -> bool:
    match = re.match(r'bytes (\d+)-', content_range or '')
    return bool(match) and int(match.group(1)) == offset


def _stream(response: http.client.HTTPResponse, part: Path, offset: int, total: int | None,
            label: str, timeout: float) -> None:
    bar = tqdm(total=total, initial=offset, unit='B', unit_scale=True, unit_divisor=1024,
               desc=label, disable=not sys.stderr.isatty(), leave=False)
    try:
        with open(part, 'ab' if offset else 'wb') as out:
            while True:
                try:
                    chunk = response.read1(_CHUNK)  # what has arrived, kept on a stall
                except TimeoutError:
                    raise _Retry(f'no data for {timeout:g} s (server stalled)') from None
                except (http.client.HTTPException, ConnectionError, OSError) as err:
                    raise _Retry(f'connection dropped ({type(err).__name__})') from None
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as err:
                    raise (disk_full_error(err, part.parent) or err) from None
                bar.update(len(chunk))
    finally:
        bar.close()
    written = part.stat().st_size
    if total is not None and written < total:
        raise _Retry(f'connection closed after {written} of {total} bytes')
