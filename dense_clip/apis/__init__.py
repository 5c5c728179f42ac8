"""High-level inference entry points (used by tools/demo.py)."""

from .inferencer import SegmentationInferencer, SegmentationResult

__all__ = ['SegmentationInferencer', 'SegmentationResult']
