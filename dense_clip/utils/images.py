"""Decoding image files to RGB with clear errors, shared by the segmentation and detection
tools (no mmseg or mmdet import)."""

from __future__ import annotations

import logging

import numpy as np
from mmengine.logging import print_log
from PIL import Image, UnidentifiedImageError

__all__ = ['read_image_rgb']


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


def read_image_rgb(data: bytes, source: str) -> np.ndarray:
    """Decodes image bytes to ``(H, W, 3)`` uint8 RGB.

    Conversions (documented, not errors): grayscale is replicated to three channels, an alpha
    channel is dropped (pixels keep their colour, as OpenCV's colour decoding does), palette
    images are expanded, 16-bit images are scaled to 8 bits by value / 257.

    Raises:
        ValueError: the bytes are not a decodable image (the message names ``source``).
    """
    import io

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f'cannot decode image {source}: {err}') from err
    if image.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
        array = np.asarray(image)
        array = _to_uint8(array.astype(np.uint16) if image.mode != 'I' else
                          array.clip(0, 65535).astype(np.uint16), source)
        return np.repeat(array[..., None], 3, axis=2)
    if image.mode != 'RGB':
        image = image.convert('RGB')
    return np.ascontiguousarray(np.asarray(image))
