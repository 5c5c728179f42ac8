"""tools/test.py runs every method's config on a tiny copy of every benchmark and reports mIoU.

Each benchmark is written in its real directory layout and file formats
(dense_clip.testing.datasets). The config's CLIP is swapped for a tiny random one, its templates
for a single one, and its test resize shortened to 160 px; the rest of the protocol (windows,
thresholds, PAMR, dataset type, label loading, metric) is the config's own.
"""

from __future__ import annotations

import sys

import pytest

from dense_clip.testing import TINY_VIT_CFG as TINY_VIT
from dense_clip.testing.datasets import write_benchmark_dataset
from tests.conftest import REPO, load_tool

METHODS = ('maskclip', 'sclip', 'clearclip', 'naclip', 'naclip-nopamr', 'cliptrase',
           'proxyclip', 'clip_dinoiser')
# Per-method shrinking beyond the CLIP: a tiny random DINO proxy; heads from random init
# instead of the authors' released file.
EXTRA = {'proxyclip': 'encoder=dict(last_block=dict(proxy=dict(tiny=True))), ',
         'clip_dinoiser': 'head=dict(checkpoint=None), '}
BENCHMARKS = ('voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff171',
              'cityscapes', 'ade150', 'ade847', 'context459')


def load_test_tool():
    return load_tool('test.py')


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('benchmarks')
    for name in BENCHMARKS:
        write_benchmark_dataset(name, root)
    return root


@pytest.mark.parametrize('benchmark', BENCHMARKS)
@pytest.mark.parametrize('method', METHODS)
def test_tools_test_reports_miou(method, benchmark, data_dir, tmp_path, monkeypatch, capsys):
    config = REPO / 'configs' / method.split('-')[0] / f'{method}_vit-b16_{benchmark}.py'
    from mmengine.config import Config

    data_root = Config.fromfile(config).test_dataloader.dataset.data_root
    tiny = tmp_path / 'tiny.py'
    tiny.write_text(
        f"_base_ = ['{config}']\n"
        f'model = dict(clip=dict(_delete_=True, model_cfg={TINY_VIT!r}),\n'
        f"             text=dict(templates='single', cache_dir=False),\n"
        f"             {EXTRA.get(method, '')}test_cfg=dict(windows_per_batch=8))\n"
        # A short side of 160 px keeps 847-class logit maps small; windows still slide.
        "pipeline = [dict(s, scale=(2048, 160)) if s['type'] == 'Resize' else s\n"
        "            for s in _base_.test_dataloader.dataset.pipeline]\n"
        'test_dataloader = dict(dataset=dict(pipeline=pipeline))\n')
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', str(tiny), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={data_dir / data_root.removeprefix("data/")}',
        'test_dataloader.num_workers=0',
        # Runner names its logger after the second it started; two runs in one second would
        # share a logger bound to an earlier test's captured stdout.
        f'experiment_name={method}_{benchmark}'])
    metrics = load_test_tool().main()
    assert 0.0 <= metrics['mIoU'] <= 100.0
    assert 'mIoU' in capsys.readouterr().out
