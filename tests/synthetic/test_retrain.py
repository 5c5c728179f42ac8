"""Retraining the tiny CLIP with its recorded command reproduces it (a tiny, fast configuration).

The shipped checkpoint's own 45-minute retrain is checked by the same tool,
``python tools/check_tiny_clip_retrain.py`` (RECIPE.md gives the result); here a few steps of a
1-layer, 32-wide model exercise the same path: record the command, rerun it, compare.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, load_tool

TINY_ARGS = ['--steps', '3', '--pool-size', '32', '--batch-size', '8', '--width', '32',
             '--text-width', '32', '--layers', '1', '--warmup', '1', '--threads', '1',
             '--workers', '1', '--probe-val', '4']


TOOL = 'check_tiny_clip_retrain.py'


@pytest.fixture(scope='module')
def tiny_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp('tiny') / 'tiny.safetensors'
    subprocess.run([sys.executable, 'tools/train_tiny_clip.py', *TINY_ARGS, '--out', str(out)],
                   cwd=REPO, check=True, capture_output=True)
    return out


def test_recorded_command_reproduces_bit_for_bit(tiny_ckpt, tmp_path, capsys):
    tool = load_tool(TOOL)
    tool.main(['--ckpt', str(tiny_ckpt), '--keep', str(tmp_path)])
    report = capsys.readouterr().out
    assert 'bit-for-bit reproduction' in report and 'within tolerance' in report
    old = json.loads(tiny_ckpt.with_suffix('.json').read_text())
    new = json.loads((tmp_path / tiny_ckpt.name).with_suffix('.json').read_text())
    assert new['sha256'] == old['sha256']
    assert (tmp_path / tiny_ckpt.name).read_bytes() == tiny_ckpt.read_bytes()
    assert new['probe'] == old['probe']


def test_compare_flags_metrics_out_of_tolerance():
    tool = load_tool(TOOL)
    old = {'sha256': 'a', 'probe': {'zs_acc': 0.80, 'maskclip/prompt': 0.40, 'sclip/prompt': 0.38}}
    near = {'sha256': 'b', 'probe': {'zs_acc': 0.81, 'maskclip/prompt': 0.42, 'sclip/prompt': 0.36}}
    far = {'sha256': 'c', 'probe': {'zs_acc': 0.81, 'maskclip/prompt': 0.33, 'sclip/prompt': 0.38}}
    ok, lines = tool.compare(old, near, zs_tol=0.02, miou_tol=0.03)
    assert ok and lines[0].startswith('sha256 differs')
    ok, lines = tool.compare(old, far, zs_tol=0.02, miou_tol=0.03)
    assert not ok and any(line.startswith('maskclip/prompt') and '> 0.03' in line
                          for line in lines)


def test_recorded_command_must_be_the_training_script(tmp_path):
    tool = load_tool(TOOL)
    with pytest.raises(ValueError, match='train_tiny_clip'):
        tool.retrain_command({'command': 'python tools/train.py cfg.py'}, tmp_path / 'x')
    argv = tool.retrain_command({'command': 'python tools/train_tiny_clip.py --steps 5 --out a.st'},
                                tmp_path / 'x.safetensors')
    assert argv[-2:] == ['--out', str(tmp_path / 'x.safetensors')] and 'a.st' not in argv
