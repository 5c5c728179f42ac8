"""Segment Anything, wrapped: model building and checked weight loading, class-agnostic masks
from the automatic generator and from box / point prompts (registered in
``dense_clip.registry.MASK_GENERATORS``), and the attention affinity of SAM's image encoder."""

from .automatic_masks import GENERATOR_DEFAULTS, SAMAutomaticMasks
from .build import SAM_MODEL_TYPES, TINY_SAM, build_sam, describe_sam_state, load_sam_weights
from .prompted_masks import SAMPromptedMasks
from .sam_model import SAMModel, to_rgb_uint8

__all__ = [
    'GENERATOR_DEFAULTS', 'SAM_MODEL_TYPES', 'TINY_SAM',
    'SAMAutomaticMasks', 'SAMModel', 'SAMPromptedMasks',
    'build_sam', 'describe_sam_state', 'load_sam_weights', 'to_rgb_uint8',
]
