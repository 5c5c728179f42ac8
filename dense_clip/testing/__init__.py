"""Test helpers shipped with the package (as mmdet ships ``mmdet.testing``): tiny random-weight
CLIP models and checkpoint writers (:mod:`.clip`), benchmark data sets written in their real
on-disk layouts (:mod:`.datasets`) and deterministic weights for regression data (:mod:`.seeded`).
Nothing here is imported by the package's own modules.
"""

from .clip import (
    build_from_config,
    openai_state_dict,
    register_open_clip_config,
    save_open_clip_checkpoint,
    save_openai_state_dict,
    save_safetensors,
    save_torchscript,
    tiny_clip_resnet,
    tiny_clip_vit,
    tiny_resnet_config,
    tiny_vit_config,
)
from .configs import TINY_VIT_CFG, shrink_model_config
from .seeded import seeded_state_dict, seeded_tensors
from .segmentors import TINY_CATSEG_AGGREGATOR, tiny_catseg_segmentor, tiny_segmentor

__all__ = [
    'TINY_CATSEG_AGGREGATOR',
    'TINY_VIT_CFG',
    'shrink_model_config',
    'build_from_config',
    'openai_state_dict',
    'register_open_clip_config',
    'save_open_clip_checkpoint',
    'save_openai_state_dict',
    'save_safetensors',
    'save_torchscript',
    'seeded_state_dict',
    'seeded_tensors',
    'tiny_clip_resnet',
    'tiny_catseg_segmentor',
    'tiny_clip_vit',
    'tiny_resnet_config',
    'tiny_segmentor',
    'tiny_vit_config',
]
