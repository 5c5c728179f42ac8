"""Detectors: zero-shot region classification (RegionCLIP), F-ViT."""

from .fvit import FViT
from .zero_shot_region_detector import ZeroShotRegionDetector

__all__ = ['FViT', 'ZeroShotRegionDetector']
