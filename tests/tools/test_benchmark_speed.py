"""tools/benchmark_speed.py as a smoke test on the embedded tiny CLIP (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from dense_clip.utils.speed_report import write_readme
from tests.conftest import REPO

CONFIG = str(REPO / 'configs' / 'synthetic' / 'maskclip_tiny-clip_synthetic.py')


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('benchmark_speed',
                                                  REPO / 'tools' / 'benchmark_speed.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child_spec(**changes):
    spec = dict(config=CONFIG, classes=None, device='cpu', templates=None,
                image_templates='single', probs=None, pretrained=None, threads=None,
                baseline_prompts=8, repeats=1, image_size=[80, 64], code_root=None,
                peak_repeats=1)
    spec.update(changes)
    return spec


@pytest.mark.parametrize('precision', ['fp32', 'bf16'])
def test_cases_measure_in_both_precisions(bench, precision):
    text = bench.run_child(child_spec(case='text', precision=precision))
    assert text['prompts'] == 54 * 4 and text['templates'] == 4  # synonyms x templates
    assert text['prompts_per_s'] > 0 and text['baseline_prompts'] == 8
    image = bench.run_child(child_spec(case='image', precision=precision, count_flops=True,
                                       probs='top', classes=['cat', 'dog, puppy', 'sky']))
    assert image['classes'] == 3 and image['names'] == 4 and image['seg_logits'] == [1, 64, 80]
    assert image['flops'] > 1e6 and image['images_per_s'] > 0
    assert 0 < image['tower_flops'] <= image['flops'] and image['tower_seconds'] > 0
    for key in ('matmul_peak_gflops', 'peak_memory_mb'):
        assert image[key] > 0 and text[key] > 0


def test_tool_writes_json_markdown_and_the_readme_block(bench, tmp_path, tool_env):
    out = tmp_path / 'out'
    result = subprocess.run(
        [sys.executable, 'tools/benchmark_speed.py', CONFIG, '--cases', 'image', '--precision',
         'fp32', '--image-size', '72x64', '--repeats', '1', '--peak-repeats', '1', '--out-dir',
         str(out), '--tag',
         'smoke', '--title', 'Smoke'], cwd=REPO, env=tool_env, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads((out / 'smoke.json').read_text())
    assert run['image_size'] == [72, 64] and run['machine']['cpu'] and run['commit']
    (row,) = run['results']
    assert row['case'] == 'image' and row['precision'] == 'fp32' and row['flops'] > 0
    table = (out / 'smoke.md').read_text()
    assert '| 72x64 | fp32 | 25 (54) |' in table and 'load average' in table
    readme = tmp_path / 'README.md'
    readme.write_text('# x\n\n<!-- speed:benchmark -->\nold\n<!-- /speed:benchmark -->\nend\n')
    write_readme(readme, [str(out / 'smoke.json')])
    text = readme.read_text()
    assert '**Smoke**' in text and 'old' not in text and text.endswith('end\n')
    assert '| 72x64 | fp32 |' in text


def test_bad_arguments_are_one_line_errors(tmp_path, tool_env):
    for args, words in ((['missing.py'], 'config file not found'),
                        ([CONFIG, '--image-size', '448'], 'WIDTHxHEIGHT')):
        result = subprocess.run([sys.executable, 'tools/benchmark_speed.py', *args,
                                 '--out-dir', str(tmp_path)], cwd=REPO, env=tool_env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and words in result.stderr, result.stderr[-2000:]
