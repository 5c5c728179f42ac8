"""Photo-sized images through the demo and the inferencer: segmented at the working resolution,
labels at the photo's size in bounded memory; whole-image mode over its token limit is one clear
error line."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dense_clip.apis import SegmentationInferencer
from dense_clip.testing import TINY_VIT_CFG
from tests.conftest import REPO

SYNTHETIC = REPO / 'configs' / 'synthetic' / 'maskclip_tiny-clip_synthetic.py'
SAMPLE = REPO / 'dense_clip' / 'data' / 'samples' / 'synthetic_scene.png'


def photo(path, width, height):
    """A JPEG photo-sized picture of the bundled scene (so the classes are meaningful)."""
    image = Image.open(SAMPLE).convert('RGB').resize((width, height), Image.BILINEAR)
    image.save(path, quality=85)
    return path


def transform_names(inferencer):
    return [type(t).__name__ for t in inferencer.pipeline.transforms]


def test_configs_without_a_resize_get_the_clip_input_size():
    inferencer = SegmentationInferencer(SYNTHETIC)
    assert transform_names(inferencer)[:2] == ['LoadImageChecked', 'Resize']
    resize = inferencer.pipeline.transforms[1]
    assert resize.scale == (2048, 64) and resize.keep_ratio  # the embedded CLIP's 64 px
    assert inferencer.model.settings.probs == 'auto'


def test_configs_with_a_resize_keep_theirs():
    config = REPO / 'configs' / 'sclip' / 'sclip_vit-b16_context59.py'
    inferencer = SegmentationInferencer(config, clip=dict(model_cfg=copy.deepcopy(TINY_VIT_CFG)))
    names = transform_names(inferencer)
    assert names.count('Resize') == 1
    assert inferencer.pipeline.transforms[names.index('Resize')].scale == (2048, 336)


def test_a_large_photo_gives_labels_at_its_size_in_bounded_memory(tmp_path, monkeypatch):
    rendered = []
    from dense_clip.seg.window_store import WindowStore

    render = WindowStore.render
    monkeypatch.setattr(WindowStore, 'render', lambda self, start=0, end=None: rendered.append(
        ((end or self.num_outputs) - start, self.height, self.width)) or render(self, start, end))
    inferencer = SegmentationInferencer(SYNTHETIC)
    result = inferencer(photo(tmp_path / 'photo.jpg', 1600, 1200))
    assert result.labels.shape == (1200, 1600) and result.image_rgb.shape == (1200, 1600, 3)
    # 54 names x 1.92 M pixels x 4 bytes > 256 MB: only the top class's probability is kept,
    # classes rendered a few at a time at the working resolution (85x64 for 64 px)
    assert result.probs.shape == (1, 1200, 1600)
    assert 0 < result.probs.min() and result.probs.max() <= 1
    assert all(height == 64 and width == 85 for _, height, width in rendered)
    assert max(names for names, _, _ in rendered) * 1200 * 1600 * 4 <= 256 << 20
    shares = np.bincount(result.labels.ravel()) / result.labels.size
    assert shares.max() < 0.9  # a scene, not one label everywhere


def test_a_small_photo_keeps_every_class_probability(tmp_path):
    result = SegmentationInferencer(SYNTHETIC)(photo(tmp_path / 'small.png', 96, 72))
    assert result.probs.shape[0] == len(result.class_names) and result.labels.shape == (72, 96)


def run_demo(args, env, tmp_path):
    env = dict(env, HF_HUB_OFFLINE='1', DENSE_CLIP_CACHE=str(tmp_path / 'cache'))
    return subprocess.run([sys.executable, 'tools/demo.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_run_demo_on_a_4000x3000_photo(tmp_path, tool_env):
    out = tmp_path / 'overlay.png'
    result = run_demo([str(photo(tmp_path / 'photo.jpg', 4000, 3000)), '--out', str(out)],
                      tool_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '(4000x3000)' in result.stdout
    with Image.open(out) as overlay:
        assert overlay.size[1] >= 3000 and overlay.size[0] > 8000  # image | overlay | legend


def test_whole_image_over_the_token_limit_is_one_error_line(tmp_path, tool_env):
    config = tmp_path / 'whole_small_limit.py'
    config.write_text(f"_base_ = ['{SYNTHETIC}']\nmodel = dict(test_cfg=dict(max_tokens=16))\n")
    result = run_demo([str(photo(tmp_path / 'p.png', 400, 300)), '--config', str(config),
                       '--out', str(tmp_path / 'o.png')], tool_env, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and 'Traceback' not in result.stderr
    for words in ('85x64 image', '8x11 patch grid', '88 tokens', 'max_tokens=16',
                  "test_cfg.mode='slide'"):
        assert words in lines[0], words
