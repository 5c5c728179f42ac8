"""The web demo's request handling: the inferencer pool, the limits, the detection path."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from dense_clip.apis.builder import build_inferencer
from dense_clip.apis.demo_service import DemoLimits, DemoService, InferencerPool
from dense_clip.synthetic.dataset import write_dataset
from tests.tools.test_test_outputs import write_tiny_det_config


def test_pool_lends_distinct_instances_to_concurrent_requests():
    built = []

    def factory(config, clip):
        built.append(object())
        return built[-1]

    pool = InferencerPool(factory, per_key=2)
    inside, release = threading.Barrier(3), threading.Event()
    held = []

    def request():
        with pool.acquire('a.py', None) as inferencer:
            held.append(inferencer)
            inside.wait(timeout=10)
            release.wait(timeout=10)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=10)  # both requests hold a model at the same time
    release.set()
    for thread in threads:
        thread.join()
    assert len(built) == 2 and held[0] is not held[1]
    with pool.acquire('a.py', None) as again:  # reused, not rebuilt
        assert again in built and len(built) == 2


def test_pool_waits_when_every_instance_is_busy_and_drops_old_models():
    pool = InferencerPool(lambda config, clip: object(), per_key=1, max_keys=1)
    order = []

    def second():
        with pool.acquire('a.py', None):
            order.append('second')

    with pool.acquire('a.py', None):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        order.append('first done')
    thread.join(timeout=10)
    assert order == ['first done', 'second']
    with pool.acquire('b.py', dict(model_name='x')):
        pass
    assert list(pool._count) == [('b.py', (('model_name', 'x'),))]


def test_limits_are_checked_before_any_model_is_built(tmp_path):
    service = DemoService({'m': 'unused.py'}, DemoLimits(max_pixels=100, max_classes=2),
                          factory=lambda config, clip: pytest.fail('must not build'))
    image = tmp_path / 'big.png'
    Image.new('RGB', (20, 10)).save(image)
    assert 'Image too large: 20x10' in service(str(image), 'a', 'm').message
    small = tmp_path / 'small.png'
    Image.new('RGB', (5, 5)).save(small)
    assert 'Too many classes: 3' in service(str(small), 'a, b, c', 'm').message
    assert 'Bad class list' in service(str(small), 'a|,b', 'm').message
    assert 'Unknown method' in service(str(small), 'a', 'other').message


def test_unknown_scope_lists_the_valid_ones(tmp_path):
    config = tmp_path / 'c.py'
    config.write_text("default_scope = 'mmpretrain'\n")
    with pytest.raises(ValueError, match='mmdet, mmseg'):
        build_inferencer(config)


def test_detection_config_gets_boxes_through_the_same_interface(tmp_path):
    root = tmp_path / 'synthetic'
    write_dataset(root, seed=1, n_train=0, n_val=1)
    config = write_tiny_det_config(tmp_path / 'retinanet_tiny.py', root)
    service = DemoService({'retinanet': str(config)},
                          factory=lambda config, clip: _low_threshold(build_inferencer(config)))
    image = root / 'img_dir' / 'val' / '00000.png'
    reply = service(str(image), 'red plain', 'retinanet')
    assert 'fixed class list' in reply.message  # closed-set detector: no custom vocabulary
    inferencer = _low_threshold(build_inferencer(config))
    result = inferencer(str(image))
    picture = result.render()
    assert picture.shape == (64, 2 * 64 + 4, 3)
    source = np.asarray(Image.open(image).convert('RGB'))
    assert np.array_equal(picture[:, :64], source)
    assert not np.array_equal(picture[:, 68:], source)  # boxes drawn
    headers, rows = result.legend()
    assert headers == ['class', 'boxes', 'best score']
    assert sum(r[1] for r in rows) == int((result.scores >= result.score_thr).sum()) > 0
    assert all(r[0] in result.class_names for r in rows)


def _low_threshold(inferencer):
    inferencer.score_thr = 0.0  # random weights: keep every box so some are drawn
    return inferencer
