"""Detectors: zero-shot region classification (RegionCLIP), F-ViT, CLIPSelf fine-tuning."""

from .zero_shot_region_detector import ZeroShotRegionDetector

__all__ = ['ZeroShotRegionDetector']
