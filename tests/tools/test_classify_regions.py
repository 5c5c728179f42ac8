"""tools/classify_regions.py: prints a class per box and writes an overlay; bad boxes and bad
classes are one-line errors naming the input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO, load_tool


def run_main(monkeypatch, *argv):
    tool = load_tool('classify_regions.py')
    monkeypatch.setattr(sys, 'argv', ['classify_regions.py', *argv])
    tool.main()


def test_defaults_classify_boxes_of_the_sample_and_write_an_overlay(tmp_path, monkeypatch,
                                                                    capsys):
    out = tmp_path / 'regions.png'
    run_main(monkeypatch, '--boxes', '0,0,20,20; 30,30,64,60', '--out', str(out))
    printed = capsys.readouterr().out
    assert 'box 0 (0,0,20,20):' in printed and 'box 1 (30,30,64,60):' in printed
    assert out.is_file() and out.stat().st_size > 0
    run_main(monkeypatch, '--boxes', '0,0,20,20', '--classes', 'red striped|red stripes,sand',
             '--score-thresh', '1.0', '--out', str(out))
    assert 'unknown' in capsys.readouterr().out  # below the threshold


@pytest.mark.parametrize('boxes,fragment', [
    (';', 'the box list is empty'),
    ('1,2,3', 'has 3 numbers'),
    ('a,b,c,d', 'is not numbers'),
    ('0,0,10,nan', 'NaN'),
    ('5,5,5,20', 'zero or negative width'),
    ('10,10,90,30', 'outside the 64x64 image'),
])
def test_bad_boxes_are_named(boxes, fragment, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='--boxes') as info:
        run_main(monkeypatch, '--boxes', boxes, '--out', str(tmp_path / 'x.png'))
    assert fragment in str(info.value)


def test_other_bad_inputs_are_named(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match='empty class name'):
        run_main(monkeypatch, '--boxes', '0,0,10,10', '--classes', 'cat,,dog')
    with pytest.raises(ValueError, match='ZeroShotRegionDetector'):
        run_main(monkeypatch, '--boxes', '0,0,10,10', '--config',
                 str(REPO / 'configs' / 'synthetic' / 'maskclip_tiny-clip_synthetic.py'))
    with pytest.raises(FileNotFoundError, match='image file not found'):
        run_main(monkeypatch, str(tmp_path / 'missing.png'), '--boxes', '0,0,1,1')


def test_errors_are_one_line_on_the_command_line(tmp_path, tool_env):
    result = subprocess.run([sys.executable, 'tools/classify_regions.py', '--boxes',
                             '0,0,10,nan', '--out', str(tmp_path / 'o.png')], cwd=REPO,
                            env=tool_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:') and 'box 0 (0, 0, 10, nan) has a NaN' in last, last
