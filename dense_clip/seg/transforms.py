"""Image loading with clear errors and documented conversions for unusual files."""

from __future__ import annotations

import logging

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get
from mmengine.logging import print_log
from PIL import Image, UnidentifiedImageError

from dense_clip.registry import SEG_TRANSFORMS

__all__ = ['LoadImageChecked', 'read_image_rgb']


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


@SEG_TRANSFORMS.register_module()
class LoadImageChecked(BaseTransform):
    """Loads ``results['img_path']`` as BGR uint8, like mmcv's LoadImageFromFile, but robustly.

    Grayscale, RGBA, palette and 16-bit files are converted as :func:`read_image_rgb`
    documents; a missing file raises FileNotFoundError and a corrupt one a ValueError, each
    naming the file.

    Required keys: img_path. Added keys: img, img_shape, ori_shape.
    """

    def __init__(self, to_float32: bool = False, backend_args: dict | None = None) -> None:
        self.to_float32 = to_float32
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        try:
            data = get(path, backend_args=self.backend_args)
        except FileNotFoundError as err:
            raise FileNotFoundError(f'image file not found: {path}') from err
        image = read_image_rgb(data, str(path))[..., ::-1].copy()  # RGB -> BGR (mmcv order)
        if self.to_float32:
            image = image.astype(np.float32)
        results['img'] = image
        results['img_shape'] = image.shape[:2]
        results['ori_shape'] = image.shape[:2]
        return results
