"""tools/train.py, tools/test.py and tools/dist_train.sh on a tiny model and synthetic data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO

TOY = REPO / 'configs' / 'toy' / 'fcn_tiny-resnet18_toy-seg-32x32.py'


def run_tool(args: list[str], env: dict, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f'{args} failed ({result.returncode}):\n{result.stderr[-3000:]}')
    return result


def train(config: Path, work_dir: Path, data_root: Path, env: dict, *extra: str, check=True):
    return run_tool([sys.executable, 'tools/train.py', str(config), '--work-dir', str(work_dir),
                     '--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
                     f'val_dataloader.dataset.data_root={data_root}',
                     f'test_dataloader.dataset.data_root={data_root}', *extra], env, check)


def weights(path: Path) -> dict[str, torch.Tensor]:
    from dense_clip.utils.checkpoint import safe_torch_load

    return safe_torch_load(path)['state_dict']


def test_train_single_process_writes_checkpoints(tmp_path, toy_seg_root, tool_env):
    train(TOY, tmp_path, toy_seg_root, tool_env)
    assert (tmp_path / 'iter_4.pth').is_file() and (tmp_path / 'iter_8.pth').is_file()
    ckpt = weights(tmp_path / 'iter_8.pth')
    assert any(k.startswith('decode_head.') for k in ckpt)


def test_dist_train_two_processes_on_cpu(tmp_path, toy_seg_root, tool_env):
    env = dict(tool_env, PORT='29611', PYTHON=sys.executable)
    result = run_tool(['bash', 'tools/dist_train.sh', str(TOY), '2', '--work-dir', str(tmp_path),
                       '--cfg-options', f'train_dataloader.dataset.data_root={toy_seg_root}',
                       f'val_dataloader.dataset.data_root={toy_seg_root}'], env)
    assert (tmp_path / 'iter_8.pth').is_file()
    logs = list(tmp_path.glob('*/*.log'))
    assert logs, result.stdout[-2000:]
    text = logs[0].read_text()
    assert 'Distributed training: True' in text
    assert 'GPU number: 2' in text, text[:3000]


def test_resume_after_kill_matches_uninterrupted(tmp_path, toy_seg_root, tool_env):
    full = tmp_path / 'full'
    train(TOY, full, toy_seg_root, tool_env)

    crash_cfg = tmp_path / 'crash.py'
    crash_cfg.write_text(
        f"_base_ = ['{TOY}']\n"
        "custom_imports = dict(imports=['dense_clip.seg', 'crash_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='CrashAfterIterHook', iteration=4, priority='LOWEST')]\n")
    part = tmp_path / 'part'
    killed = train(crash_cfg, part, toy_seg_root, tool_env, check=False)
    assert killed.returncode == 17, killed.stderr[-2000:]
    assert (part / 'iter_4.pth').is_file() and not (part / 'iter_8.pth').exists()

    train(TOY, part, toy_seg_root, tool_env, '--resume')
    a, b = weights(full / 'iter_8.pth'), weights(part / 'iter_8.pth')
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:'), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in last, last


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_missing_config_is_one_line_error(tool, tool_env):
    result = run_tool([sys.executable, f'tools/{tool}', 'configs/no_such.py'], tool_env, False)
    assert_one_line_error(result, 'config file not found', 'configs/no_such.py')


def test_unknown_model_type_is_one_line_error(tmp_path, toy_seg_root, tool_env):
    result = train(TOY, tmp_path, toy_seg_root, tool_env, 'model.type=NoSuchSegmentor',
                   check=False)
    assert_one_line_error(result, 'NoSuchSegmentor')


def test_missing_checkpoint_is_one_line_error(tmp_path, tool_env):
    missing = tmp_path / 'absent.pth'
    result = run_tool([sys.executable, 'tools/test.py', str(TOY), str(missing)], tool_env, False)
    assert_one_line_error(result, 'not found', str(missing))


def test_wrong_architecture_checkpoint_is_one_line_error(tmp_path, toy_seg_root, tool_env):
    bad = tmp_path / 'other_model.pth'
    torch.save({'state_dict': {'backbone.stem.0.weight': torch.zeros(3, 3, 3, 3)}}, bad)
    result = run_tool([sys.executable, 'tools/test.py', str(TOY), str(bad), '--work-dir',
                       str(tmp_path), '--cfg-options',
                       f'test_dataloader.dataset.data_root={toy_seg_root}'], tool_env, False)
    assert_one_line_error(result, 'does not match', str(bad), 'shape mismatch', 'missing')


def test_test_tool_reports_miou_for_trained_checkpoint(tmp_path, toy_seg_root, tool_env):
    train(TOY, tmp_path / 'train', toy_seg_root, tool_env)
    result = run_tool([sys.executable, 'tools/test.py', str(TOY), str(tmp_path / 'train' /
                       'iter_8.pth'), '--work-dir', str(tmp_path / 'test'), '--cfg-options',
                       f'test_dataloader.dataset.data_root={toy_seg_root}'], tool_env)
    assert 'mIoU' in result.stdout + result.stderr
