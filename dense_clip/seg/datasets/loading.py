"""Loading of 16-bit label maps (ADE20K-847, PASCAL Context 459).

mmseg's ``LoadAnnotations`` casts every label map to uint8, which folds class 256 onto class 0.
The >255-class benchmarks (in CAT-Seg's layout, after MaskFormer's converters) store their labels as
16-bit TIFFs with 65535 as the ignore value; :class:`LoadUInt16Annotations` reads them with Pillow
(mode ``I;16``) and keeps every value intact.
"""

from __future__ import annotations

import io

import mmengine.fileio as fileio
import numpy as np
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS
from PIL import Image

#: Ignore value of the 16-bit label maps (CAT-Seg's ``ignore_label`` for ADE20K-847).
UINT16_IGNORE_INDEX = 65535


def read_uint16_label_map(path: str, backend_args: dict | None = None) -> np.ndarray:
    """Reads a single-channel label map without narrowing its dtype.

    Args:
        path: File path or URI of a 16-bit (TIFF or PNG) or 8-bit label image.
        backend_args: mmengine file backend arguments.

    Returns:
        (H, W) uint16 array of label values (8-bit files are widened, values unchanged).
    """
    data = fileio.get(path, backend_args=backend_args)
    with Image.open(io.BytesIO(data)) as image:
        array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f'{path}: expected a single-channel label map, got shape {array.shape}')
    if array.dtype not in (np.uint8, np.uint16):
        if array.min() < 0 or array.max() > np.iinfo(np.uint16).max:
            raise ValueError(f'{path}: label values out of the uint16 range')
    return array.astype(np.uint16)


@TRANSFORMS.register_module()
class LoadUInt16Annotations(LoadAnnotations):
    """Loads a semantic label map that may hold values above 255.

    Same keys as mmseg's ``LoadAnnotations`` (reads ``seg_map_path``, ``reduce_zero_label``,
    ``label_map``; adds ``gt_seg_map``) but the map stays uint16.

    Args:
        reduce_zero_label: Whether label 0 means "ignore" and the others shift down by one. ``None``
            takes the dataset's setting.
        ignore_index: Value of ignored pixels, used by ``reduce_zero_label``. Default 65535.
        backend_args: mmengine file backend arguments.
    """

    def __init__(
        self,
        reduce_zero_label: bool | None = None,
        ignore_index: int = UINT16_IGNORE_INDEX,
        backend_args: dict | None = None,
    ) -> None:
        super().__init__(reduce_zero_label=reduce_zero_label, backend_args=backend_args)
        self.ignore_index = ignore_index

    def _load_seg_map(self, results: dict) -> None:
        gt = read_uint16_label_map(results['seg_map_path'], self.backend_args)
        reduce_zero_label = self.reduce_zero_label
        if reduce_zero_label is None:
            reduce_zero_label = results.get('reduce_zero_label', False)
        if reduce_zero_label:
            ignored = (gt == 0) | (gt == self.ignore_index)
            gt = gt - 1  # wraps 0 to 65535; overwritten just below
            gt[ignored] = self.ignore_index
        label_map = results.get('label_map')
        if label_map is not None:
            source = gt.copy()
            for old_id, new_id in label_map.items():
                gt[source == old_id] = new_id
        results['gt_seg_map'] = gt
        results['seg_fields'].append('gt_seg_map')

    def __repr__(self) -> str:
        return (
            f'{self.__class__.__name__}(reduce_zero_label={self.reduce_zero_label}, '
            f'ignore_index={self.ignore_index}, backend_args={self.backend_args})'
        )
