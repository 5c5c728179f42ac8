"""Plain-URL downloads through a local server: cache, resume, checksums, errors, offline."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import torch

from dense_clip.models.proxy import build_proxy_model
from dense_clip.zoo import ZooError, load_index, resolve
from dense_clip.zoo.cache import download_path, read_record
from tests.zoo.fakes import git_blob_sha1, sha256, weight_entry, write_index


def sam_checkpoint() -> tuple[bytes, object]:
    """A tiny SAM checkpoint in the released layout (image_encoder.*, prompt/mask parts)."""
    torch.manual_seed(0)
    source = build_proxy_model(dict(type='sam_vitb', tiny=True))
    state = {f'image_encoder.{k}': v.normal_() for k, v in source.encoder.state_dict().items()}
    state['mask_decoder.iou_token.weight'] = torch.zeros(4, 16)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue(), source


def setup_entry(env: Path, server, mode='ok', name='tiny_sam', content=None, **zoo):
    content = content if content is not None else sam_checkpoint()[0]
    url = server.add(f'/files/{name}.pth', content, mode)
    zoo.setdefault('SHA256', sha256(content))
    write_index(env / 'index', [weight_entry(name, url, **zoo)])
    return content, f'/files/{name}.pth'


def test_fresh_download_is_checked_recorded_and_loads_weights_only(zoo_env, server):
    content, source = sam_checkpoint()
    _, path = setup_entry(zoo_env, server, content=content)
    local = resolve('zoo://tiny_sam')
    assert local.read_bytes() == content
    assert local == zoo_env / 'cache' / 'zoo' / 'tiny_sam' / 'tiny_sam.pth'
    record = read_record(local)
    assert record['sha256'] == sha256(content) and record['size'] == len(content)
    assert server.gets(path) == [None]
    assert not list(local.parent.glob('*.part'))
    proxy = build_proxy_model(dict(type='sam_vitb', tiny=True))
    proxy.checkpoint, proxy._weights_loaded = 'zoo://tiny_sam', False  # tiny builds skip files
    images = torch.randn(1, 3, 40, 40)
    torch.testing.assert_close(proxy(images), source(images))


def test_cache_hit_makes_no_request(zoo_env, server):
    _, path = setup_entry(zoo_env, server)
    first = resolve('tiny_sam')
    server.requests.clear()
    assert resolve('zoo://tiny_sam') == first
    assert server.requests == []


def test_resume_after_the_connection_is_cut(zoo_env, server):
    content, path = setup_entry(zoo_env, server, mode='drop')
    local = resolve('tiny_sam')
    assert local.read_bytes() == content
    assert server.gets(path) == [None, f'bytes={len(content) // 2}-']


def test_a_stall_midway_times_out_and_resumes(zoo_env, server, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_ZOO_TIMEOUT', '0.3')
    content, path = setup_entry(zoo_env, server, mode='stall-body')
    assert resolve('tiny_sam').read_bytes() == content
    assert server.gets(path) == [None, 'bytes=16-']


def test_a_stalled_server_ends_in_a_clear_timeout(zoo_env, server, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_ZOO_TIMEOUT', '0.3')
    monkeypatch.setenv('DENSE_CLIP_ZOO_RETRIES', '1')
    _, path = setup_entry(zoo_env, server, mode='stall')
    start = time.monotonic()
    with pytest.raises(ZooError, match=r'failed after 2 attempts \(no answer within 0.3 s'):
        resolve('tiny_sam')
    assert time.monotonic() - start < 5
    assert len(server.gets(path)) == 2


def test_checksum_mismatch_keeps_the_file_aside_and_never_loads_it(zoo_env, server):
    content, path = setup_entry(zoo_env, server, SHA256=sha256(b'other bytes'))
    dest = download_path(load_index().weight('tiny_sam'))
    with pytest.raises(ZooError, match='checksum mismatch') as err:
        resolve('tiny_sam')
    assert str(dest) + '.mismatch' in str(err.value)
    assert not dest.exists()
    assert Path(str(dest) + '.mismatch').read_bytes() == content
    with pytest.raises(ZooError, match='checksum mismatch'):  # fetched again, never used
        resolve('tiny_sam')


def test_md5_prefix_and_git_blob_id_are_checked(zoo_env, server):
    import hashlib

    content = sam_checkpoint()[0]
    md5 = hashlib.md5(content).hexdigest()
    setup_entry(zoo_env, server, content=content, SHA256=None, MD5=md5[:6],
                **{'Git SHA1': git_blob_sha1(content)})
    assert resolve('tiny_sam').read_bytes() == content
    setup_entry(zoo_env, server, name='bad_md5', content=content, SHA256=None,
                MD5=('0' if md5[0] != '0' else '1') + md5[1:6])
    with pytest.raises(ZooError, match=r'md5 expected .*\.\.\., got ' + md5):
        resolve('bad_md5')


def test_404_is_reported_and_not_retried(zoo_env, server):
    _, path = setup_entry(zoo_env, server, mode=404)
    with pytest.raises(ZooError, match=r'HTTP 404 .*moved or was removed'):
        resolve('tiny_sam')
    assert len(server.gets(path)) == 1


def test_server_errors_are_retried_then_reported(zoo_env, server):
    _, path = setup_entry(zoo_env, server, mode=503)
    with pytest.raises(ZooError, match=r'failed after 3 attempts \(HTTP 503'):
        resolve('tiny_sam')
    assert len(server.gets(path)) == 3


def test_an_html_page_is_refused(zoo_env, server):
    setup_entry(zoo_env, server, mode='html')
    with pytest.raises(ZooError, match='HTML page instead of the file'):
        resolve('tiny_sam')


def test_an_unresolvable_host_fails_at_once_with_where_to_place_the_file(zoo_env):
    url = 'https://weights.example.invalid/tiny.pth'
    write_index(zoo_env / 'index', [weight_entry('tiny', url)])
    start = time.monotonic()
    with pytest.raises(ZooError, match=r'cannot resolve the host .* place it at .*tiny\.pth'):
        resolve('tiny')
    assert time.monotonic() - start < 5


def test_offline_mode_says_which_file_to_place_where(zoo_env, server, monkeypatch):
    content, _ = setup_entry(zoo_env, server)
    monkeypatch.setenv('DENSE_CLIP_OFFLINE', '1')
    dest = download_path(load_index().weight('tiny_sam'))
    with pytest.raises(ZooError) as err:
        resolve('tiny_sam')
    message = str(err.value)
    assert 'offline' in message and server.url in message and str(dest) in message
    assert sha256(content) in message
    assert server.requests == []
    dest.parent.mkdir(parents=True)
    dest.write_bytes(content)  # placed by hand, as the message says
    assert resolve('tiny_sam') == dest
    assert read_record(dest)['sha256'] == sha256(content)
    assert server.requests == []


def test_a_corrupted_cached_file_is_fetched_again(zoo_env, server):
    content, path = setup_entry(zoo_env, server, SHA256=None)  # only the recorded sha256
    local = resolve('tiny_sam')
    data = bytearray(local.read_bytes())
    data[100] ^= 0xFF
    local.write_bytes(bytes(data))
    assert resolve('tiny_sam').read_bytes() == content
    assert len(server.gets(path)) == 2
    assert Path(str(local) + '.corrupt').read_bytes() == bytes(data)  # kept aside


def test_a_manual_entry_says_where_to_place_the_file(zoo_env, server):
    content = sam_checkpoint()[0]
    folder = 'https://drive.example.com/folders/abc'
    write_index(zoo_env / 'index', [weight_entry('handmade', folder, File='handmade.pth',
                                                 Download='manual')])
    dest = download_path(load_index().weight('handmade'))
    with pytest.raises(ZooError, match=f'download it from {folder} and place it at {dest}'):
        resolve('handmade')
    dest.parent.mkdir(parents=True)
    dest.write_bytes(content)
    assert resolve('handmade') == dest


def test_not_enough_disk_space_is_refused_before_downloading(zoo_env, server):
    setup_entry(zoo_env, server, SHA256=None, Size=10 ** 18)
    with pytest.raises(ZooError, match=r'not enough disk space in .*tiny_sam'):
        resolve('tiny_sam')
    assert server.requests == []


def test_a_read_only_cache_folder_is_named(server, zoo_env, monkeypatch):
    base = Path(tempfile.mkdtemp(prefix='zoo-ro-'))  # traversable by an unprivileged user
    try:
        os.chmod(base, 0o755)
        index = base / 'index'
        index.mkdir()
        setup_entry(base, server)
        os.chmod(index, 0o755)
        for item in index.rglob('*'):
            os.chmod(item, 0o755 if item.is_dir() else 0o644)
        cache = base / 'cache'
        cache.mkdir(mode=0o555)
        os.chmod(cache, 0o555)
        monkeypatch.setenv('DENSE_CLIP_CACHE', str(cache))
        monkeypatch.setenv('DENSE_CLIP_MODEL_INDEX', str(index / 'model-index.yml'))
        as_root = os.geteuid() == 0
        if as_root:  # permissions bind the effective user only: act as 'nobody'
            os.seteuid(65534)
        try:
            with pytest.raises(ZooError, match=f'cache folder {cache}/zoo/tiny_sam is not '
                                               'writable'):
                resolve('tiny_sam')
        finally:
            if as_root:
                os.seteuid(0)
        assert server.requests == []
    finally:
        os.chmod(base / 'cache', 0o755)
        shutil.rmtree(base)


def test_unknown_names_list_close_matches(zoo_env, server):
    setup_entry(zoo_env, server)
    with pytest.raises(ZooError, match=r"unknown zoo name 'tiny_sma'; close matches: tiny_sam"):
        resolve('zoo://tiny_sma')


def test_a_pickle_with_other_objects_is_refused_with_the_reason(zoo_env, server):
    import argparse

    from dense_clip.utils.checkpoint import CheckpointError, load_checkpoint_file

    buffer = io.BytesIO()
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'args': argparse.Namespace(lr=1)}, buffer)
    url = server.add('/evil.pth', buffer.getvalue())
    write_index(zoo_env / 'index', [weight_entry('evil', url),
                                    weight_entry('evil_heads', url, Convert='clip_dinoiser_heads')])
    with pytest.raises(CheckpointError, match=r'refused by the weights-only loader .*Namespace'):
        load_checkpoint_file('zoo://evil')
    with pytest.raises(ZooError, match=r'failed on .*refused by the weights-only loader'):
        resolve('evil_heads')
