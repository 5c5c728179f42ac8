"""Training faults, through tools/train.py in a subprocess: a bad checkpoint-hook setting, a
resume from another model's (or a non-training) checkpoint, a full disk while saving.

The full disk is real: the training process runs under ``RLIMIT_FSIZE``, so the kernel stops
the checkpoint write part-way (EFBIG), as a full file system stops it with ENOSPC.
"""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest
import torch

from dense_clip.engine import load_config
from dense_clip.utils.checkpoint import safe_torch_load
from tests.conftest import REPO
from tests.tools.test_train_test import TOY, assert_one_line_error, train


@pytest.fixture(scope='module')
def trained(tmp_path_factory, toy_seg_root, tool_env):
    """A finished 8-iteration toy run (checkpoints at 4 and 8)."""
    work_dir = tmp_path_factory.mktemp('trained')
    train(TOY, work_dir, toy_seg_root, tool_env)
    return work_dir


def test_bad_checkpoint_hook_key_fails_before_training(tmp_path, toy_seg_root, tool_env):
    result = train(TOY, tmp_path, toy_seg_root, tool_env,
                   'default_hooks.checkpoint.intervl=2', check=False)
    assert_one_line_error(result, 'unknown setting default_hooks.checkpoint.intervl',
                          'did you mean default_hooks.checkpoint.interval?')
    assert 'Iter(train)' not in result.stdout + result.stderr  # not one iteration was run
    assert not list(tmp_path.rglob('*.pth'))


@pytest.mark.parametrize('setting, fragment', [
    ({'default_hooks.checkpoint.interval': 0}, 'interval=0'),
    ({'default_hooks.checkpoint.filename_tmpl': 'latest.pth'}, "needs one {}"),
    ({'default_hooks.logger.intervl': 2}, 'unknown setting default_hooks.logger.intervl'),
])
def test_hook_settings_that_fail_later_are_found_when_loading(setting, fragment, tmp_path):
    with pytest.raises(ValueError) as err:
        load_config(str(TOY), setting, str(tmp_path))
    assert fragment in str(err.value)


def test_valid_hook_settings_pass(tmp_path):
    cfg = load_config(str(TOY), {'default_hooks.checkpoint.filename_tmpl': 'ckpt_{}.pth',
                                 'custom_hooks': [dict(type='EmptyCacheHook', priority='LOWEST')]},
                      str(tmp_path))
    assert cfg.default_hooks.checkpoint.filename_tmpl == 'ckpt_{}.pth'


def test_resume_from_plain_weights_names_the_file(trained, tmp_path, toy_seg_root, tool_env):
    weights = tmp_path / 'weights_only.pth'
    torch.save(safe_torch_load(trained / 'iter_4.pth')['state_dict'], weights)
    result = train(TOY, tmp_path / 'run', toy_seg_root, tool_env, '--resume', str(weights),
                   check=False)
    assert_one_line_error(result, f'cannot resume from {weights}', 'not a training checkpoint',
                          f'load_from={weights}')
    assert 'Iter(train)' not in result.stdout + result.stderr


def test_resume_from_another_models_checkpoint_is_refused(trained, tmp_path, toy_seg_root,
                                                          tool_env):
    other = safe_torch_load(trained / 'iter_4.pth')
    head = 'decode_head.conv_seg.weight'  # another model: 5 classes instead of 3
    other['state_dict'][head] = torch.zeros(5, *other['state_dict'][head].shape[1:])
    other['state_dict']['decode_head.conv_seg.bias'] = torch.zeros(5)
    path = tmp_path / 'five_classes.pth'
    torch.save(other, path)
    result = train(TOY, tmp_path / 'run', toy_seg_root, tool_env, '--resume', str(path),
                   check=False)
    assert_one_line_error(result, 'cannot resume', str(path), 'shape mismatch', head)
    assert 'Iter(train)' not in result.stdout + result.stderr


def limit_file_size(max_bytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def test_full_disk_while_saving_names_the_folder_and_leaves_no_partial_file(
        tmp_path, toy_seg_root, tool_env):
    work_dir = tmp_path / 'run'
    root = toy_seg_root
    command = [sys.executable, 'tools/train.py', str(TOY), '--work-dir', str(work_dir),
               '--cfg-options', f'train_dataloader.dataset.data_root={root}',
               f'val_dataloader.dataset.data_root={root}']
    # checkpoints are ~2.3 MB; logs and the config dump stay far below 1 MB
    result = subprocess.run(command, cwd=REPO, env=tool_env, capture_output=True, text=True,
                            timeout=300, preexec_fn=limit_file_size(1 << 20))
    assert_one_line_error(result, 'could not write checkpoint iter_4.pth', str(work_dir),
                          'File too large', 'nothing partial was left')
    # nothing a later --resume could pick up: no partial checkpoint, no temporary file, and
    # last_checkpoint (written after a successful save) names nothing
    assert not list(work_dir.glob('*.pth')) and not list(work_dir.glob('.*.tmp'))
    assert not (work_dir / 'last_checkpoint').exists()
