"""CAT-Seg trains and tests through tools/train.py and tools/test.py (2 iterations, tiny data)."""

from __future__ import annotations

import subprocess
import sys

from dense_clip.synthetic.dataset import write_dataset
from dense_clip.utils.checkpoint import safe_torch_load
from tests.conftest import REPO

CONFIG = REPO / 'configs' / 'catseg' / 'catseg_tiny-clip_synthetic-train.py'


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_two_iterations_through_train_and_test_tools(tmp_path, tool_env):
    data = tmp_path / 'data'
    write_dataset(data, seed=0, n_train=4, n_val=2)
    roots = [f'{loader}.dataset.data_root={data}'
             for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    work = tmp_path / 'work'
    run(['tools/train.py', str(CONFIG), '--work-dir', str(work), '--cfg-options', *roots,
         'train_dataloader.batch_size=2', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
         'param_scheduler.0.end=2', 'default_hooks.checkpoint.interval=2',
         'default_hooks.logger.interval=1'], tool_env)
    state = safe_torch_load(work / 'iter_2.pth')['state_dict']
    assert any(k.startswith('catseg.aggregator.') for k in state)
    logs = next(work.glob('*/*.log')).read_text()
    assert 'loss_sem_seg' in logs and 'mIoU_unseen' in logs  # trained, then validated
    result = run(['tools/test.py', str(CONFIG), str(work / 'iter_2.pth'), '--work-dir',
                  str(tmp_path / 'test'), '--cfg-options', *roots], tool_env)
    assert 'mIoU_seen' in result.stdout + result.stderr
