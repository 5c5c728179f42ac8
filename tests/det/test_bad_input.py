"""A detection config with a segmentation model (and the reverse) fails with one line naming both.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dense_clip.engine import load_config
from tests.conftest import REPO

DET_CONFIG = REPO / 'configs' / 'synthetic_det' / 'zeroshot-boxes_tiny-clip_synthetic-det.py'
SEG_CONFIG = REPO / 'configs' / 'synthetic' / 'maskclip_tiny-clip_synthetic.py'


def write(tmp_path, base, model_type):
    config = tmp_path / f'{model_type}.py'
    config.write_text(f"_base_ = ['{base}']\n"
                      f"model = dict(_delete_=True, type='{model_type}', "
                      "clip=dict(model_name='dense_clip:tiny-clip-synth'))\n")
    return config


def test_segmentation_model_in_a_detection_config(tmp_path):
    with pytest.raises(ValueError, match="'OpenVocabSegmentor' is a segmentation model .*"
                       'detection config'):
        load_config(str(write(tmp_path, DET_CONFIG, 'OpenVocabSegmentor')))


def test_detection_model_in_a_segmentation_config(tmp_path):
    with pytest.raises(ValueError, match="'ZeroShotRegionDetector' is a detection model .*"
                       'segmentation config'):
        load_config(str(write(tmp_path, SEG_CONFIG, 'ZeroShotRegionDetector')))


def test_the_tools_report_it_in_one_line(tmp_path, tool_env):
    config = write(tmp_path, DET_CONFIG, 'OpenVocabSegmentor')
    result = subprocess.run([sys.executable, 'tools/train.py', str(config), '--work-dir',
                             str(tmp_path / 'w')], cwd=REPO, env=tool_env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:') and 'is a segmentation model' in last
