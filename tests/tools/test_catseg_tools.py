"""tools/benchmark_catseg.py, tools/train_catseg_synthetic.py and tools/check_catseg_retrain.py on
tiny settings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from safetensors import safe_open

from tests.conftest import REPO, load_tool

TINY_CONFIG = f"""
_base_ = ['{REPO}/configs/catseg/catseg_vit-b16_ade150.py']
model = dict(
    clip=dict(_delete_=True, model_cfg=dict(
        embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8,
                                      head_width=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))),
    clip_resolution=64, guidance_layers=(0, 1), guidance_dims=(8, 8),
    aggregator=dict(hidden_dim=16, num_heads=2, window_size=4, text_proj_dim=8,
                    appearance_proj_dim=8, decoder_dims=(16, 16), decoder_guidance_dims=(8, 8),
                    decoder_guidance_proj_dims=(4, 4)))
"""


@pytest.mark.slow  # two fresh processes (imports, a model build each): ~30 s on 2 cores
def test_benchmark_measures_train_and_infer(tmp_path, tool_env):
    config = tmp_path / 'tiny_catseg.py'
    config.write_text(TINY_CONFIG)
    result = subprocess.run(
        [sys.executable, 'tools/benchmark_catseg.py', '--config', str(config), '--classes', '3',
         '--repeats', '1', '--out-dir', str(tmp_path / 'out')],
        cwd=REPO, env=tool_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = (tmp_path / 'out' / 'results.csv').read_text().strip().splitlines()
    assert rows[0].startswith('mode,classes,seconds')
    assert len(rows) == 3 and not any('failed' in row for row in rows), rows
    for row in rows[1:]:
        mode, classes, seconds, _, rss, _ = row.split(',')
        assert float(seconds) > 0 and float(rss) > 0.05


def test_train_export_and_retrain_check(tmp_path):
    train = load_tool('train_catseg_synthetic.py')
    out = tmp_path / 'weights.safetensors'
    argv = ['--iters', '2', '--batch', '2', '--n-train', '4', '--n-val', '2', '--out', str(out),
            '--work-dir', str(tmp_path / 'work')]
    record = train.main(argv)
    assert out.is_file() and out.with_suffix('.json').is_file()
    with safe_open(str(out), framework='pt') as handle:
        assert handle.metadata() == {'clip_weights': 'finetuned-only'}
        keys = list(handle.keys())
    assert any(k.startswith('aggregator.') for k in keys)
    clip_keys = [k for k in keys if k.startswith('clip_model.')]
    assert clip_keys and all(k.endswith('attn.in_proj_weight') for k in clip_keys)
    assert record['command'].startswith('python tools/train_catseg_synthetic.py --iters 2')
    for key in ('mIoU', 'mIoU_seen', 'mIoU_unseen'):
        assert 0 <= record['metrics'][key] <= 100

    check = load_tool('check_catseg_retrain.py')
    cmd = check.retrain_command(record, tmp_path / 'again.safetensors', tmp_path / 'w2')
    assert cmd[1].endswith('tools/train_catseg_synthetic.py')
    assert cmd.count('--out') == 1 and cmd[cmd.index('--out') + 1].endswith('again.safetensors')
    same, lines = check.compare(record, json.loads(json.dumps(record)), miou_tol=2.0)
    assert same and 'bit-for-bit' in lines[0]
    moved = json.loads(json.dumps(record))
    moved['sha256'] = '0' * 64
    moved['metrics']['mIoU_unseen'] += 5
    ok, lines = check.compare(record, moved, miou_tol=2.0)
    assert not ok and any('mIoU_unseen' in line and '>' in line for line in lines)
    with pytest.raises(ValueError, match='not a tools/train_catseg_synthetic.py run'):
        check.retrain_command({'command': 'python tools/train.py x'}, out, tmp_path)
