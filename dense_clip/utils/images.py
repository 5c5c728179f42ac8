"""Decoding image files the same way everywhere: EXIF orientation, size guard, clear errors.

The demo, the Python API (``SegmentationInferencer``, ``DetectionInferencer``), the test
pipelines (``LoadImageChecked``) and the ``--show-dir`` pictures all read images through
:func:`read_image_rgb`, so a photo is never segmented in one orientation and drawn in another.
mmcv's ``LoadImageFromFile`` (used by the training pipelines) decodes with OpenCV, which also
applies the EXIF orientation, so training and testing see the same pixels.
"""

from __future__ import annotations

import io
import logging
import re

import numpy as np
from mmengine.logging import print_log
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ['EXIF_ORIENTATION', 'max_image_pixels', 'read_image_rgb']

#: EXIF tag of the orientation (1: as stored; 2-8: mirrored and/or rotated).
EXIF_ORIENTATION = 0x0112


def max_image_pixels() -> int | None:
    """The largest image (width x height) decoded: Pillow's decompression-bomb limit.

    Pillow refuses images over twice ``PIL.Image.MAX_IMAGE_PIXELS`` (178,956,970 pixels by
    default, about 13,377 x 13,377) and warns above it. None when that guard was turned off.
    """
    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else 2 * int(limit)


def _to_uint8(array: np.ndarray, source: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        print_log(f'{source}: 16-bit image scaled to 8 bits (value / 257)', logger='current',
                  level=logging.DEBUG)
        return (array.astype(np.float32) / 257.0).round().astype(np.uint8)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    raise ValueError(f'{source}: unsupported pixel type {array.dtype}; expected 8 or 16 bits')


def _open(data: bytes, source: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Image.DecompressionBombError as err:
        found = re.search(r'\((\d+) pixels\)', str(err))
        size = f'{int(found.group(1)):,} pixels' if found else 'too many pixels'
        raise ValueError(
            f'image {source} has {size}, over the limit of {max_image_pixels():,} pixels '
            "(Pillow's decompression-bomb guard); downscale it before segmenting it") from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f'cannot decode image {source}: {err}') from err
    return image


def read_image_rgb(data: bytes, source: str) -> np.ndarray:
    """Decodes image bytes to ``(H, W, 3)`` uint8 RGB, upright.

    Conversions (documented, not errors): the EXIF orientation is applied (a JPEG taken
    sideways, orientation 6, comes back upright with width and height swapped, as OpenCV and
    mmcv decode it); grayscale is replicated to three channels, an alpha channel is dropped
    (pixels keep their colour, as OpenCV's colour decoding does), palette images are expanded,
    16-bit images are scaled to 8 bits by value / 257.

    Args:
        data: the file's bytes (any format Pillow reads).
        source: the file's name, for messages.

    Returns:
        ``(H, W, 3)`` uint8 RGB, values 0-255.

    Raises:
        ValueError: the bytes are not a decodable image, or the image has more pixels than
            :func:`max_image_pixels` (the message names ``source`` and the limit).
    """
    image = _open(data, source)
    if image.getexif().get(EXIF_ORIENTATION, 1) not in (1, None):
        image = ImageOps.exif_transpose(image)
    if image.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        array = np.asarray(image)
        array = _to_uint8(array.astype(np.uint16) if image.mode != 'I' else
                          array.clip(0, 65535).astype(np.uint16), source)
        return np.repeat(array[..., None], 3, axis=2)
    if image.mode != 'RGB':
        image = image.convert('RGB')
    return np.ascontiguousarray(np.asarray(image))
