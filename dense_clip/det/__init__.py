"""Detection side of dense_clip (mmdet 3.x): importing this registers its modules.

Configs activate it with ``custom_imports = dict(imports=['dense_clip.det'])`` and
``default_scope = 'mmdet'``. It never imports mmseg.
"""

from dense_clip import engine  # noqa: F401  (CPU model wrapper)

from . import datasets, evaluation, hooks, models  # noqa: F401
from .class_split import ClassSplit, available_class_splits, load_class_split

__all__ = ['ClassSplit', 'available_class_splits', 'datasets', 'evaluation', 'hooks',
           'load_class_split', 'models']
