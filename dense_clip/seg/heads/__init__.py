"""Open-vocabulary segmentation heads: a dense pass + text embeddings -> per-name scores."""

from .base import SegHead
from .cosine import CosineHead
from .dinoiser import DINOiserHead

__all__ = ['CosineHead', 'DINOiserHead', 'SegHead']
