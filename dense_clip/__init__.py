"""dense_clip: dense prediction (segmentation, detection, mask recognition) with pretrained CLIP."""

from .version import __version__

__all__ = ['__version__']
