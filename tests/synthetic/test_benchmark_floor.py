"""The embedded tiny CLIP's dense features stay well above chance on the synthetic benchmark.

Floors are set from measurements on these 40 seeded validation images
(tools/benchmark_synthetic.py --n-val 40): chance 0.99, all background 3.02, vanilla 16.78,
MaskCLIP 33.39, SCLIP 34.90, ClearCLIP 23.11, NACLIP 28.58, CLIPtrase (with its cluster vote)
36.72, CAT-Seg (shipped weights) 62.77 mIoU. Each floor is about 80% of its measurement. A
regression in any dense-feature code path (encoder, last-block strategy, text classifier,
segmentor, PAMR, CAT-Seg's aggregator, metric wiring) pulls one of them down.
"""

from __future__ import annotations

import numpy as np
import pytest

from dense_clip.synthetic.dataset import write_dataset
from tests.conftest import load_tool


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    module = load_tool('benchmark_synthetic.py')
    root = tmp_path_factory.mktemp('synthetic')
    write_dataset(root, seed=0, n_train=0, n_val=40)
    return module, root


def test_chance_level_is_low(bench):
    module, root = bench
    rng = np.random.default_rng(0)
    chance = module.miou_of_labelling(root, lambda gt: rng.integers(0, 25, gt.shape), 25)
    assert chance < 2.0


@pytest.fixture(scope='module')
def vanilla_miou(bench, tmp_path_factory):
    module, root = bench
    return module.evaluate_method('vanilla', root, tmp_path_factory.mktemp('vanilla'))[0]


def test_vanilla_beats_floor(vanilla_miou):
    assert vanilla_miou >= 13.0, vanilla_miou


@pytest.mark.parametrize('method, floor, margin', [
    ('maskclip', 27.0, 10.0), ('sclip', 28.0, 10.0), ('cliptrase', 29.0, 10.0),
    ('naclip', 23.0, 5.0), ('clearclip', 18.0, 3.0), ('catseg', 50.0, 30.0)])
def test_methods_beat_floor_and_vanilla(bench, vanilla_miou, tmp_path, method,
                                                      floor, margin):
    module, root = bench
    miou, _ = module.evaluate_method(method, root, tmp_path)
    assert miou >= floor, miou
    assert miou >= vanilla_miou + margin, (miou, vanilla_miou)
