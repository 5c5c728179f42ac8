"""Test-time pictures for the segmentation side (``tools/test.py --show-dir / --show``)."""

from .show_dir_hook import SegShowDirHook
from .side_by_side_visualizer import SegSideBySideVisualizer

__all__ = ['SegShowDirHook', 'SegSideBySideVisualizer']
