"""High-level inference entry points (used by tools/demo.py and tools/classify_regions.py)."""

from .inferencer import SegmentationInferencer, SegmentationResult
from .region_inferencer import RegionInferencer, RegionResult

__all__ = ['RegionInferencer', 'RegionResult', 'SegmentationInferencer', 'SegmentationResult']
