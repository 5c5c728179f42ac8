"""Image loading with clear errors and documented conversions for unusual files."""

from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get

from dense_clip.registry import SEG_TRANSFORMS
from dense_clip.utils.images import read_image_rgb

__all__ = ['LoadImageChecked', 'read_image_rgb']


@SEG_TRANSFORMS.register_module()
class LoadImageChecked(BaseTransform):
    """Loads ``results['img_path']`` as BGR uint8, like mmcv's LoadImageFromFile, but robustly.

    The EXIF orientation is applied (as mmcv's OpenCV decoding does in the training
    pipelines); grayscale, RGBA, palette and 16-bit files are converted as
    :func:`~dense_clip.utils.images.read_image_rgb` documents; a missing file raises
    FileNotFoundError, and a corrupt file or one over the decompression-bomb limit a
    ValueError, each naming the file.

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
