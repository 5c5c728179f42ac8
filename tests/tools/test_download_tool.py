"""tools/download.py: list, dry run, download, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dense_clip.zoo import ZooError
from tests.conftest import REPO, load_tool
from tests.zoo.fakes import sha256, weight_entry, write_index

DOWNLOAD = load_tool('download.py')


def zoo_with_a_config(env, server):
    """Two weight files and a config entry needing both, served locally."""
    clip, heads = b'clip weights' * 100, b'heads' * 50
    clip_url = server.add('/clip.pt', clip)
    heads_url = server.add('/last.pt', heads)
    configs = env / 'index' / 'configs' / 'test'
    configs.mkdir(parents=True)
    config = configs / 'method_vit-b16_voc21.py'
    config.write_text("model = dict(clip=dict(model_name='ViT-B-16', pretrained='openai'),\n"
                      "             head=dict(checkpoint='checkpoints/last.pt'))\n")
    write_index(env / 'index', [
        weight_entry('clip_b16', clip_url, SHA256=sha256(clip), Size=len(clip),
                     **{'Open CLIP': 'ViT-B-16/openai'}),
        weight_entry('heads', heads_url, File='last.pt')],
        [{'Name': 'method_vit-b16_voc21', 'In Collection': 'Test',
          'Config': 'configs/test/method_vit-b16_voc21.py',
          'Metadata': {'Zoo Weights': {'model.clip.pretrained': 'clip_b16',
                                       'model.head.checkpoint': 'heads'}}}])
    return config, clip, heads


def test_dry_run_lists_files_sizes_and_destinations_without_requests(zoo_env, server,
                                                                      capsys):
    config, clip, _ = zoo_with_a_config(zoo_env, server)
    DOWNLOAD.main([str(config), '--dry-run'])
    out = capsys.readouterr().out
    cache = zoo_env / 'cache' / 'zoo'
    assert 'configs/test/method_vit-b16_voc21.py: 2 files' in out
    assert f'clip_b16  clip.pt  {len(clip) / 1000:.1f} kB  (http, not cached)' in out
    assert 'heads  last.pt  size unknown  (http, not cached)' in out
    assert f'to   {cache}/clip_b16/clip.pt' in out and f'to   {cache}/heads/last.pt' in out
    assert f'from {server.url}/clip.pt' in out
    assert ('use with: --cfg-options model.clip.pretrained=zoo://clip_b16 '
            'model.head.checkpoint=zoo://heads') in out
    assert server.requests == []


def test_download_fetches_checks_and_reports_each_file(zoo_env, server, capsys):
    config, clip, heads = zoo_with_a_config(zoo_env, server)
    DOWNLOAD.main(['method_vit-b16_voc21'])
    out = capsys.readouterr().out
    cache = zoo_env / 'cache' / 'zoo'
    assert f'ok   {cache}/clip_b16/clip.pt' in out and f'ok   {cache}/heads/last.pt' in out
    assert (cache / 'heads' / 'last.pt').read_bytes() == heads
    server.requests.clear()
    DOWNLOAD.main([str(config), '--dry-run'])
    assert '(http, cached)' in capsys.readouterr().out
    DOWNLOAD.main(['--list'])
    listing = capsys.readouterr().out
    assert 'clip_b16' in listing and 'cached' in listing
    assert '2 weight files, 1 config entries' in listing
    assert server.requests == []


def test_offline_download_names_the_missing_file(zoo_env, server):
    zoo_with_a_config(zoo_env, server)
    with pytest.raises(ZooError, match=r'offline .* place it at .*clip_b16/clip\.pt'):
        DOWNLOAD.main(['clip_b16', '--offline'])
    assert server.requests == []


def test_the_real_zoo_dry_run_covers_every_file_kind(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv('DENSE_CLIP_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path / 'hub'))
    monkeypatch.delenv('DENSE_CLIP_MODEL_INDEX', raising=False)
    DOWNLOAD.main(['configs/clip_dinoiser/clip_dinoiser_vit-b16_voc21.py', 'sam_vit_h',
                   'regionclip_rn50_cc', '--dry-run'])
    out = capsys.readouterr().out
    assert 'sam_vit_h  sam_vit_h_4b8939.pth  2.56 GB  (http, not cached)' in out
    assert f'to   {tmp_path}/hub/models--laion--CLIP-ViT-B-16-laion2B-s34B-b88K' in out
    assert 'clip_dinoiser_vit-b16.safetensors  (converted by ' in out
    assert 'regionclip_pretrained-cc_rn50.pth  size unknown  (manual download' in out


@pytest.mark.parametrize('argv, message', [
    (['sam_vit'], "unknown zoo name 'sam_vit'; close matches: sam_vit_l, sam_vit_h, sam_vit_b"),
    (['configs/synthetic/maskclip_tiny-clip_synthetic.py'], 'names no weights'),
    (['configs/missing.py'], 'config file not found: configs/missing.py'),
])
def test_bad_input_ends_in_one_error_line(argv, message, tool_env, tmp_path):
    env = dict(tool_env, DENSE_CLIP_CACHE=str(tmp_path))
    result = subprocess.run([sys.executable, 'tools/download.py', *argv, '--dry-run'],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ZooError: ') and message in lines[0]
