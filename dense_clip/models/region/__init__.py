"""Region alignment, shared by detection and mask classification: box and mask embeddings from
one dense CLIP pass (:class:`RegionEncoder`, :func:`mask_pool`) and their zero-shot
classification against the text classifier (:class:`RegionClassifier`). Task-agnostic: nothing
here imports mmdet or mmseg."""

from .boxes import boxes_to_rois, check_boxes, clip_boxes
from .classifier import BACKGROUND_MODES, RegionClassifier, RegionPrediction
from .mask_pool import mask_pool, masks_to_grid
from .region_encoder import RegionEncoder

__all__ = [
    'BACKGROUND_MODES',
    'RegionClassifier',
    'RegionEncoder',
    'RegionPrediction',
    'boxes_to_rois',
    'check_boxes',
    'clip_boxes',
    'mask_pool',
    'masks_to_grid',
]
