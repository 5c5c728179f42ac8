"""tools/demo.py: the README's main job, offline, with the embedded CLIP and bundled image."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from PIL import Image

from dense_clip.synthetic.samples import SAMPLE_IMAGE, write_sample
from tests.conftest import REPO


def run_demo(args, env, tmp_path):
    env = dict(env, HF_HUB_OFFLINE='1', DENSE_CLIP_CACHE=str(tmp_path / 'cache'))
    return subprocess.run([sys.executable, 'tools/demo.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_bundled_sample_matches_its_generator(tmp_path):
    assert write_sample(tmp_path / 's.png').read_bytes() == SAMPLE_IMAGE.read_bytes()


def test_default_demo_writes_overlay_and_shares(tmp_path, tool_env):
    out = tmp_path / 'overlay.png'
    result = run_demo(['--out', str(out)], tool_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    overlay = np.asarray(Image.open(out))
    assert overlay.shape[0] >= 256 and overlay.shape[1] > 2 * 256  # image | overlay | legend
    shares = [float(line.split()[-1].rstrip('%')) for line in result.stdout.splitlines()
              if line.startswith('  ') and line.endswith('%')]
    assert shares and abs(sum(shares) - 100.0) < 0.5


def test_custom_classes_and_bad_input(tmp_path, tool_env):
    out = tmp_path / 'o.png'
    result = run_demo(['--classes', 'yellow striped,green plain|green solid,background|sand',
                       '--method', 'maskclip', '--out', str(out)], tool_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    names = {line.split()[0] for line in result.stdout.splitlines() if line.endswith('%')}
    assert names <= {'yellow', 'green', 'background'}
    for args, fragment in ((['missing.png'], 'missing.png'), (['--classes', 'a,,b'], 'empty'),
                           (['--classes', 'cat,Cat'], 'duplicate')):
        result = run_demo(args + ['--out', str(out)], tool_env, tmp_path)
        assert result.returncode == 2 and fragment in result.stderr, result.stderr[-2000:]
