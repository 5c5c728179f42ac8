"""Unusual and broken image files: documented conversions or errors that name the file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dense_clip.seg.transforms import LoadImageChecked


def load(path) -> np.ndarray:
    return LoadImageChecked().transform(dict(img_path=str(path)))['img']


def test_rgb_png_loads_as_bgr(tmp_path):
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red
    Image.fromarray(rgb).save(tmp_path / 'red.png')
    image = load(tmp_path / 'red.png')
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    assert (image[..., 2] == 200).all() and (image[..., 0] == 0).all()


def test_grayscale_is_replicated(tmp_path):
    Image.fromarray(np.full((4, 5), 77, np.uint8), mode='L').save(tmp_path / 'g.png')
    image = load(tmp_path / 'g.png')
    assert image.shape == (4, 5, 3) and (image == 77).all()


def test_rgba_drops_alpha(tmp_path):
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 1] = 120
    rgba[..., 3] = 10
    Image.fromarray(rgba, mode='RGBA').save(tmp_path / 'a.png')
    image = load(tmp_path / 'a.png')
    assert image.shape == (4, 5, 3) and (image[..., 1] == 120).all()


def test_16_bit_is_scaled_to_8_bit(tmp_path):
    Image.fromarray(np.full((4, 5), 65535, np.uint16)).save(tmp_path / 'deep.png')
    image = load(tmp_path / 'deep.png')
    assert image.dtype == np.uint8 and (image == 255).all()


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    (tmp_path / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
    with pytest.raises(ValueError, match='broken.jpg'):
        load(tmp_path / 'broken.jpg')
    with pytest.raises(FileNotFoundError, match='absent.png'):
        load(tmp_path / 'absent.png')
