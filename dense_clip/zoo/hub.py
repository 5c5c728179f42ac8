"""Hugging Face hub files, fetched with ``huggingface_hub`` into the hub's own cache.

``huggingface_hub`` keeps each file once under ``<HF_HUB_CACHE>/<repo folder>/blobs/<etag>``
with ``snapshots/<commit>/<file>`` pointing at it and ``refs/<branch>`` naming the commit, resumes
interrupted downloads and honours ``HF_HUB_OFFLINE``. For files stored with git LFS (all weight
files) the etag is the file's sha256, so the zoo checks every blob against its own name (and
against the metafile's published digests): a blob changed on disk is fetched again, or refused
when offline. ``HF Revision`` pins a branch, tag or commit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .cache import digest_mismatches, file_digests
from .errors import ZooError
from .http import HttpSettings
from .index import WeightEntry

__all__ = ['hub_download', 'hub_file_url', 'hub_cache_dir', 'HubCorruption']


class HubCorruption(ZooError):
    """A cached hub blob whose content does not match its sha256 (its name) or the metafile."""

    def __init__(self, message: str, blob: Path, link: Path) -> None:
        super().__init__(message)
        self.blob = blob
        self.link = link


def hub_file_url(entry: WeightEntry) -> str:
    """The hub's resolve URL of the entry's file at its pinned revision."""
    prefix = {'model': '', 'space': 'spaces/', 'dataset': 'datasets/'}[entry.hf_repo_type]
    endpoint = os.environ.get('HF_ENDPOINT', 'https://huggingface.co').rstrip('/')
    return f'{endpoint}/{prefix}{entry.hf_repo}/resolve/{entry.hf_revision}/{entry.hf_file}'


def hub_cache_dir() -> str:
    """The hub cache folder (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    return os.environ.get('HF_HUB_CACHE') or os.path.join(
        os.environ.get('HF_HOME') or os.path.join('~', '.cache', 'huggingface'), 'hub')


def hub_download(entry: WeightEntry, *, offline: bool, force: bool = False,
                 settings: HttpSettings | None = None) -> tuple[Path, dict[str, str], str]:
    """Fetches (or finds in the hub cache) the entry's file and checks it.

    Args:
        entry: a weight entry with ``HF Repo`` / ``HF File``.
        offline: use the local hub cache only.
        force: download again even when cached (after a corrupted blob).
        settings: the request timeout.

    Returns:
        (path inside the snapshot, digests {'sha256', and the published kinds}, commit hash).

    Raises:
        ZooError: not cached while offline (with what to copy where), unknown repo, revision
            or file, a network failure; ``HubCorruption`` for a blob that fails its check.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    settings = settings or HttpSettings.from_env()
    cache = os.path.expanduser(hub_cache_dir())
    where = f'{entry.hf_repo}/{entry.hf_file}@{entry.hf_revision}'
    try:
        path = hf_hub_download(
            entry.hf_repo, entry.hf_file, repo_type=entry.hf_repo_type,
            revision=entry.hf_revision, cache_dir=cache, local_files_only=offline,
            force_download=force, endpoint=os.environ.get('HF_ENDPOINT') or None,
            etag_timeout=settings.timeout)
    except LocalEntryNotFoundError:
        repo_type = f' --repo-type {entry.hf_repo_type}' if entry.hf_repo_type != 'model' else ''
        raise ZooError(
            f'{entry.name}: {where} is not in the Hugging Face cache {cache} and the hub cannot '
            'be used (offline: HF_HUB_OFFLINE / DENSE_CLIP_OFFLINE, or no network). On a '
            f'machine with network run `python tools/download.py {entry.name}` (or `hf '
            f'download {entry.hf_repo} {entry.hf_file} --revision {entry.hf_revision}'
            f'{repo_type}`) and copy its {entry.hf_repo_type}s--'
            f'{entry.hf_repo.replace("/", "--")} folder into {cache}') from None
    except RevisionNotFoundError:
        raise ZooError(f'{entry.name}: revision {entry.hf_revision!r} not found in '
                       f'{entry.hf_repo}') from None
    except RepositoryNotFoundError:
        raise ZooError(f'{entry.name}: hub repository {entry.hf_repo} ({entry.hf_repo_type}) '
                       'not found or private') from None
    except EntryNotFoundError:
        raise ZooError(f'{entry.name}: {where} does not exist on the hub (moved or '
                       'removed?)') from None
    except (HfHubHTTPError, OSError) as err:
        raise ZooError(f'{entry.name}: fetching {where} from the hub failed: '
                       f'{" ".join(str(err).split())[:300]}') from None
    link = Path(path)
    blob = link.resolve()
    digests = file_digests(blob, ('sha256', *entry.hashes))
    expected = dict(entry.hashes)
    problems = digest_mismatches(digests, expected)
    if re.fullmatch(r'[0-9a-f]{64}', blob.name) and digests['sha256'] != blob.name:
        problems.append(f'sha256 recorded by the hub cache (blob name) {blob.name}, got '
                        f'{digests["sha256"]}')
    if problems:
        raise HubCorruption(f'{entry.name}: cached hub file {blob} fails its check: '
                            f'{"; ".join(problems)}', blob, link)
    return link, digests, _commit_of(link)


def _commit_of(link: Path) -> str:
    parts = link.parts
    return parts[parts.index('snapshots') + 1] if 'snapshots' in parts else ''
