"""The embedded tiny CLIP's dense features stay well above chance on the synthetic benchmark.

Floors are set from measurements on these 40 seeded validation images
(tools/benchmark_synthetic.py --n-val 40): chance 0.99, vanilla 2.68, MaskCLIP 10.25,
CLIPtrase 13.43 mIoU. A regression in any dense-feature code path (encoder, last-block strategy,
text classifier, segmentor, metric wiring) pulls them down.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from dense_clip.synthetic.dataset import write_dataset
from tests.conftest import REPO


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    spec = importlib.util.spec_from_file_location('benchmark_synthetic',
                                                  REPO / 'tools/benchmark_synthetic.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
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


@pytest.mark.parametrize('method, floor', [('maskclip', 8.0), ('cliptrase', 10.0)])
def test_training_free_methods_beat_floor_and_vanilla(bench, vanilla_miou, tmp_path, method,
                                                      floor):
    module, root = bench
    miou, _ = module.evaluate_method(method, root, tmp_path)
    vanilla = vanilla_miou
    assert miou >= floor, miou
    assert miou > 2 * vanilla, (miou, vanilla)
