"""tools/benchmark_speed.py as a smoke test on the embedded tiny CLIP (no timing asserted)."""

from __future__ import annotations

import functools
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


def test_profile_counts_products_and_attention_from_their_shapes(bench):
    import torch
    import torch.nn.functional as F
    from torch import nn

    from dense_clip.models.clip.packed_linear import linear

    x, weight = torch.randn(2, 7, 32), torch.randn(48, 32)
    a, b = torch.randn(3, 5, 6), torch.randn(3, 6, 4)
    q, k, v = torch.randn(2, 4, 7, 8), torch.randn(2, 4, 9, 8), torch.randn(2, 4, 9, 8)

    class Tower(nn.Module):
        def forward(self, a, b):
            return torch.bmm(a, b)

    def run(dtype, tower):
        with torch.no_grad():
            linear(x.to(dtype), weight.to(dtype))  # bfloat16: oneDNN's packed linear
            F.linear(x.to(dtype), weight.to(dtype), torch.zeros(48, dtype=dtype))  # addmm
            tower(a.to(dtype), b.to(dtype))  # the marked part
            F.scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype))

    for dtype in (torch.float32, torch.bfloat16):
        tower = Tower()
        parts = bench.profile_parts(functools.partial(run, dtype, tower), tower=tower)
        assert parts['tower']['flops'] == dict(products=2 * 3 * 5 * 6 * 4, attention=0), dtype
        assert parts['rest']['flops'] == dict(products=2 * (2 * 14 * 32 * 48),
                                              attention=2 * 8 * 7 * 9 * (8 + 8)), dtype
        assert not tower._forward_hooks and not tower._forward_pre_hooks  # removed again
        for part in parts.values():
            assert set(part['seconds']) == {'products', 'attention', 'other', 'outside'}
            assert min(part['seconds'].values()) >= 0 and part['seconds']['products'] > 0
        assert parts['rest']['seconds']['attention'] > 0
        assert parts['tower']['seconds']['attention'] == 0
        whole = bench.profile_parts(functools.partial(run, dtype, Tower()))
        assert set(whole) == {'rest'}
        assert whole['rest']['flops']['products'] == 2 * (2 * 14 * 32 * 48) + 2 * 3 * 5 * 6 * 4


def test_image_case_profile_and_its_table(bench):
    from dense_clip.utils.speed_report import markdown

    image = bench.run_child(child_spec(case='image', precision='bf16', profile=True))
    profile = image['profile']
    assert set(profile) == {'tower', 'rest'}
    assert profile['tower']['flops']['products'] > 0  # the encoder's calls were marked
    assert profile['tower']['flops']['attention'] > 0  # the bfloat16 blocks' fused attention
    run = dict(title='t', date='today', machine=dict(cpu='cpu', cpu_flags='', logical_cpus=2,
                                                     torch='x', python='y'),
               device='cpu', threads=1, commit='abc', command='c', image_size=[80, 64],
               load_before=0.0, load_after=0.0,
               results=[dict(case='image', precision='bf16', **image)])
    table = markdown(run)
    for part in ('image tower', 'after the tower', 'whole image'):
        assert f'| bf16 | {part} | ' in table


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
