"""Detectors and their parts (registered in mmdet's registries), and CLIPSelf."""

from . import backbones, detectors, roi_heads  # noqa: F401
from .clipself import CLIPSelf

__all__ = ['CLIPSelf', 'backbones', 'detectors', 'roi_heads']
