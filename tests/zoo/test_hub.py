"""Hugging Face hub entries: huggingface_hub's own cache layout, offline mode, pinned revisions,
corrupted blobs, and downloads from a local server speaking the hub's protocol."""

from __future__ import annotations

import io

import pytest
import torch

from dense_clip.zoo import ZooError, plan, resolve
from tests.zoo.fakes import sha256, weight_entry, write_hub_cache, write_index

REPO_ID = 'example-org/tiny-weights'
COMMIT = 'a' * 40
OTHER_COMMIT = 'b' * 40


def checkpoint_bytes(seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    buffer = io.BytesIO()
    torch.save({'weight': torch.randn(8, 4), 'bias': torch.randn(8)}, buffer)
    return buffer.getvalue()


def hub_entry(name: str = 'tiny_hub', revision: str = COMMIT, **zoo) -> dict:
    url = f'https://huggingface.co/{REPO_ID}/resolve/{revision}/model.pth'
    return weight_entry(name, url, **{'HF Repo': REPO_ID, 'HF File': 'model.pth',
                                      'HF Revision': revision, **zoo})


def test_pinned_revision_and_branch_resolve_from_the_hub_cache_offline(zoo_env, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_OFFLINE', '1')
    old, new = checkpoint_bytes(0), checkpoint_bytes(1)
    write_hub_cache(zoo_env / 'hub', REPO_ID, 'model.pth', old, OTHER_COMMIT, refs=())
    write_hub_cache(zoo_env / 'hub', REPO_ID, 'model.pth', new, COMMIT, refs=('main',))
    write_index(zoo_env / 'index', [hub_entry('pinned', OTHER_COMMIT, SHA256=sha256(old)),
                                    hub_entry('branch', 'main')])
    pinned = resolve('zoo://pinned')
    assert pinned.read_bytes() == old and OTHER_COMMIT in str(pinned)
    branch = resolve('zoo://branch')
    assert branch.read_bytes() == new and COMMIT in str(branch)
    assert plan('branch').cached and plan('branch').destination == branch


def test_a_file_missing_offline_says_what_to_copy_where(zoo_env, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_OFFLINE', '1')
    write_index(zoo_env / 'index', [hub_entry()])
    with pytest.raises(ZooError) as err:
        resolve('tiny_hub')
    message = str(err.value)
    assert f'hf download {REPO_ID} model.pth --revision {COMMIT}' in message
    assert 'models--example-org--tiny-weights' in message and str(zoo_env / 'hub') in message


def test_a_corrupted_blob_is_refused_offline(zoo_env, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_OFFLINE', '1')
    link = write_hub_cache(zoo_env / 'hub', REPO_ID, 'model.pth', checkpoint_bytes(), COMMIT)
    blob = link.resolve()
    blob.write_bytes(blob.read_bytes()[:-10] + b'0123456789')  # no longer its sha256 (name)
    write_index(zoo_env / 'index', [hub_entry()])
    with pytest.raises(ZooError, match=r'fails its check: .*blob name.*cannot fetch it again'):
        resolve('tiny_hub')


def test_a_published_digest_is_checked_too(zoo_env, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_OFFLINE', '1')
    write_hub_cache(zoo_env / 'hub', REPO_ID, 'model.pth', checkpoint_bytes(), COMMIT)
    write_index(zoo_env / 'index', [hub_entry(SHA256=sha256(b'something else'))])
    with pytest.raises(ZooError, match='sha256 expected'):
        resolve('tiny_hub')


def serve_hub_file(server, content: bytes, revision: str = COMMIT) -> str:
    """The hub's resolve endpoint for model.pth, with the headers huggingface_hub reads."""
    path = f'/{REPO_ID}/resolve/{revision}/model.pth'
    server.add(path, content, headers={'X-Repo-Commit': COMMIT, 'ETag': f'"{sha256(content)}"'})
    return path


def test_download_from_the_hub_endpoint_then_offline_reuse(zoo_env, server, hub_online,
                                                           monkeypatch):
    monkeypatch.setenv('HF_ENDPOINT', server.url)
    content = checkpoint_bytes()
    path = serve_hub_file(server, content)
    write_index(zoo_env / 'index', [hub_entry()])
    local = resolve('tiny_hub')
    assert local.read_bytes() == content
    assert local.resolve().name == sha256(content)  # the hub cache's blob, named by sha256
    assert server.gets(path) and str(zoo_env / 'hub') in str(local)
    server.requests.clear()
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')  # the hub's own switch is honoured too
    assert resolve('tiny_hub') == local
    assert server.requests == []


def test_a_corrupted_blob_is_fetched_again_online(zoo_env, server, hub_online, monkeypatch):
    monkeypatch.setenv('HF_ENDPOINT', server.url)
    content = checkpoint_bytes()
    path = serve_hub_file(server, content)
    link = write_hub_cache(zoo_env / 'hub', REPO_ID, 'model.pth', content, COMMIT)
    link.resolve().write_bytes(b'truncated')
    write_index(zoo_env / 'index', [hub_entry()])
    assert resolve('tiny_hub').read_bytes() == content
    assert server.gets(path)
    assert (link.resolve().parent / (sha256(content) + '.corrupt')).read_bytes() == b'truncated'


def test_unknown_hub_file_is_reported(zoo_env, server, hub_online, monkeypatch):
    monkeypatch.setenv('HF_ENDPOINT', server.url)
    write_index(zoo_env / 'index', [hub_entry()])
    with pytest.raises(ZooError, match=f'{REPO_ID}/model.pth@{COMMIT}'):
        resolve('tiny_hub')
