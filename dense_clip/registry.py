"""dense_clip's registries, wired into mmengine, mmseg and mmdet.

Building blocks shared by segmentation and detection (CLIP towers, dense heads, model wrappers)
register into mmengine's root registries. mmseg's and mmdet's registries are children of those
roots and fall back to them, so one class serves both tasks and a segmentation config never has
to import mmdet. Task-level modules (segmentors, detectors, datasets, metrics) register into the
task package's own registry, reached here lazily: ``SEG_MODELS`` imports mmseg on first use and
``DET_MODELS`` imports mmdet on first use.

Configs activate dense_clip with::

    custom_imports = dict(imports=['dense_clip.seg'], allow_failed_imports=False)  # or .det

dense_clip-internal registries are built here with ``locations=`` (the modules that fill them are
imported on first lookup): ``WEIGHT_CONVERTERS`` holds the model zoo's named checkpoint
converters (``Convert:`` in a metafile entry; see ``dense_clip.zoo``).
"""

from __future__ import annotations

import importlib

from mmengine.registry import MODEL_WRAPPERS, MODELS, TRANSFORMS, Registry

__all__ = ['MODELS', 'MODEL_WRAPPERS', 'TRANSFORMS', 'WEIGHT_CONVERTERS']

# Names under which the task registries are reachable, and where they come from.
_TASK_REGISTRIES = {
    'SEG_MODELS': ('mmseg.registry', 'MODELS'),
    'SEG_DATASETS': ('mmseg.registry', 'DATASETS'),
    'SEG_TRANSFORMS': ('mmseg.registry', 'TRANSFORMS'),
    'SEG_METRICS': ('mmseg.registry', 'METRICS'),
    'SEG_HOOKS': ('mmseg.registry', 'HOOKS'),
    'DET_MODELS': ('mmdet.registry', 'MODELS'),
    'DET_DATASETS': ('mmdet.registry', 'DATASETS'),
    'DET_TRANSFORMS': ('mmdet.registry', 'TRANSFORMS'),
    'DET_METRICS': ('mmdet.registry', 'METRICS'),
}

#: Functions ``convert(src: Path, **args) -> dict[str, Tensor]`` turning an upstream checkpoint
#: file into the state dict dense_clip loads; the zoo caches their output as safetensors.
WEIGHT_CONVERTERS = Registry('weight converter', scope='dense_clip',
                             locations=['dense_clip.zoo.converters'])


def __getattr__(name: str) -> Registry:
    """Returns a task registry (importing its package) on first access."""
    if name not in _TASK_REGISTRIES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module_name, attr = _TASK_REGISTRIES[name]
    return getattr(importlib.import_module(module_name), attr)

