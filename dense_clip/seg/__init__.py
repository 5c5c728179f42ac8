"""Segmentation side of dense_clip (mmseg 1.x): importing this registers its modules.

Configs activate it with ``custom_imports = dict(imports=['dense_clip.seg'])``. It never imports
mmdet.
"""

from dense_clip import engine  # noqa: F401  (CPU model wrapper)

from . import (  # noqa: F401
    catseg,
    datasets,
    evaluation,
    heads,
    metrics,
    segmentors,
    steps,
    transforms,
    visualization,
)

__all__ = ['catseg', 'datasets', 'evaluation', 'heads', 'metrics', 'segmentors', 'steps',
           'transforms', 'visualization']
