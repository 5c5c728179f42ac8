"""Task-agnostic mask recognition over dense CLIP features: class-agnostic proposals, mask
pooling (one matmul for all masks), open-vocabulary classification with a no-object rule, and
label maps from masks (painting classified masks, voting a dense map inside masks)."""

from .classification import MaskClassification, classify_masks
from .pooling import mask_pool, mask_weights
from .proposals import MaskGenerator, MaskProposals, masks_to_boxes
from .voting import VOTE_MODES, mask_majority, mask_mean_probs, paint_masks, vote_in_masks

__all__ = [
    'VOTE_MODES', 'MaskClassification', 'MaskGenerator', 'MaskProposals',
    'classify_masks', 'mask_majority', 'mask_mean_probs', 'mask_pool', 'mask_weights',
    'masks_to_boxes', 'paint_masks', 'vote_in_masks',
]
