"""Config mistakes: syntax errors, --cfg-options without '=', keys nothing reads, model and
component settings a class does not take. Each is found before anything is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from dense_clip.engine import load_config
from dense_clip.registry import SEG_HEADS, build_component
from tests.conftest import REPO, load_tool
from tests.reliability.conftest import cli_error, warnings_of

TOY = REPO / 'configs' / 'toy' / 'fcn_tiny-resnet18_toy-seg-32x32.py'
SYNTHETIC = REPO / 'configs' / 'synthetic' / 'maskclip_tiny-clip_synthetic.py'


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize('tool', ['train.py', 'test.py'])
def test_syntax_error_names_the_config_file_and_line(tool, tmp_path, capsys, monkeypatch):
    broken = write(tmp_path / 'broken.py', f"_base_ = ['{TOY}']\nmodel = dict(type='X'\nx = 1\n")
    line = cli_error(load_tool(tool).main, [str(broken), '--work-dir', str(tmp_path / 'w')],
                     capsys, monkeypatch)
    assert f'syntax error in config {broken}, line 2' in line and 'never closed' in line


def test_syntax_error_in_a_base_file_names_that_file(tmp_path, capsys, monkeypatch):
    base = write(tmp_path / 'base.py', "model = dict(\n    type='X',,\n)\n")
    child = write(tmp_path / 'child.py', "_base_ = ['./base.py']\n")
    line = cli_error(load_tool('test.py').main, [str(child), '--work-dir', str(tmp_path / 'w')],
                     capsys, monkeypatch)
    assert f'syntax error in config {base}, line 2' in line


@pytest.mark.parametrize('item', ['k', '=1', 'train_cfg.max_iters'])
def test_cfg_options_item_without_equals_is_named(item, tmp_path, capsys, monkeypatch):
    line = cli_error(load_tool('train.py').main,
                     [str(TOY), '--work-dir', str(tmp_path), '--cfg-options', item], capsys,
                     monkeypatch)
    assert f"--cfg-options '{item}' is not KEY=VALUE" in line


def test_misspelled_and_legacy_top_level_keys_are_reported(tmp_path, mm_log):
    config = write(tmp_path / 'typo.py', f"_base_ = ['{TOY}']\n"
                   "train_cgf = dict(type='IterBasedTrainLoop', max_iters=2)\n"
                   "optimizer = dict(type='SGD', lr=0.1)\n")
    load_config(str(config), work_dir=str(tmp_path / 'w'))
    warned = warnings_of(mm_log)
    assert "'train_cgf' is read by nothing; did you mean 'train_cfg'?" in warned
    assert "'optimizer' is an mmcv 0.x setting" in warned and 'optim_wrapper' in warned
    assert 'test_pipeline' not in warned and 'data_root' not in warned  # helper variables


def test_cfg_options_that_nothing_reads_are_reported(tmp_path, mm_log):
    load_config(str(TOY), {'no_such.key': 1, 'train_cfg.max_iters': 2}, str(tmp_path))
    warned = warnings_of(mm_log)
    assert "--cfg-options no_such.key: the config has no 'no_such' and nothing reads it" in warned
    assert 'max_iters' not in warned


def test_misspelled_model_setting_is_one_error_line(tmp_path, capsys, monkeypatch):
    line = cli_error(load_tool('test.py').main,
                     [str(SYNTHETIC), '--work-dir', str(tmp_path), '--cfg-options',
                      'model.logit_scal=50'], capsys, monkeypatch)
    assert 'unknown setting model.logit_scal (did you mean model.logit_scale?)' in line
    assert 'OpenVocabSegmentor takes' in line


def test_component_settings_a_class_does_not_take_are_named():
    from dense_clip.testing import tiny_segmentor

    with pytest.raises(ValueError, match=r'unknown setting clip\.pretraind \(did you mean '
                                         r'clip\.pretrained\?\)'):
        tiny_segmentor(clip=dict(model_cfg={}, pretraind='x.pth'))
    with pytest.raises(ValueError, match=r'segmentation head CosineHead\.foo: CosineHead takes '
                                         'no settings'):
        build_component(SEG_HEADS, dict(type='CosineHead', foo=1))


def test_unknown_keyword_found_when_building_is_still_one_line(tmp_path, capsys, monkeypatch):
    line = cli_error(load_tool('test.py').main,
                     [str(TOY), '--work-dir', str(tmp_path), '--cfg-options',
                      'test_cfg.no_such=1'], capsys, monkeypatch)
    assert "unexpected keyword argument 'no_such'" in line
