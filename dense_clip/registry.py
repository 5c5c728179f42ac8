"""Every dense_clip registry, and the one builder for its own component registries.

Building blocks shared by segmentation and detection (CLIP towers, dense heads, model wrappers)
register into mmengine's root registries. mmseg's and mmdet's registries are children of those
roots and fall back to them, so one class serves both tasks and a segmentation config never has
to import mmdet. Task-level modules (segmentors, detectors, datasets, metrics) register into the
task package's own registry, reached here lazily: ``SEG_MODELS`` imports mmseg on first use and
``DET_MODELS`` imports mmdet on first use.

dense_clip's own component registries (last-block strategies, proxy models, CLIP-DINOiser
teachers, segmentation heads and steps, mask generators) are plain mmengine registries with
``locations``: the modules that fill them are imported on first lookup, so no module has to
import another just to register it (no import cycles). They are built with
:func:`build_component`, which matches names case-insensitively and lists the valid names on a
miss.

Configs activate dense_clip with::

    custom_imports = dict(imports=['dense_clip.seg'], allow_failed_imports=False)  # or .det

dense_clip-internal registries are built here with ``locations=`` (the modules that fill them are
imported on first lookup): ``WEIGHT_CONVERTERS`` holds the model zoo's named checkpoint
converters (``Convert:`` in a metafile entry; see ``dense_clip.zoo``).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from mmengine.registry import HOOKS, MODEL_WRAPPERS, MODELS, TRANSFORMS, Registry

__all__ = [
    'HOOKS',
    'LAST_BLOCKS',
    'MASK_GENERATORS',
    'MODELS',
    'MODEL_WRAPPERS',
    'PROXY_MODELS',
    'SEG_HEADS',
    'SEG_STEPS',
    'TEACHERS',
    'TRANSFORMS',
    'WEIGHT_CONVERTERS',
    'build_component',
    'check_arguments',
]

#: Strategies for the last block of a CLIP image tower (MaskCLIP, SCLIP, ..., ProxyCLIP).
LAST_BLOCKS = Registry(
    'clip last block',
    locations=['dense_clip.models.clip.last_block', 'dense_clip.models.clip.proxy_attention'],
)
#: Proxy vision models giving patch features (DINO, DINOv2, SAM image encoder).
PROXY_MODELS = Registry('proxy model', locations=['dense_clip.models.proxy.builders'])
#: Training targets for CLIP-DINOiser's heads.
TEACHERS = Registry('dinoiser teacher', locations=['dense_clip.models.dinoiser.teachers'])
#: Open-vocabulary segmentation heads: a dense pass + text embeddings -> per-name scores.
SEG_HEADS = Registry('segmentation head', locations=['dense_clip.seg.heads'])
#: Segmentation steps applied to scores, probabilities or labels (PAMR, cluster vote, ...).
SEG_STEPS = Registry('segmentation step', locations=['dense_clip.seg.steps'])
#: Class-agnostic mask generators: an RGB image -> ``MaskProposals`` (SAM's automatic generator,
#: SAM with box / point prompts).
MASK_GENERATORS = Registry('mask generator', locations=['dense_clip.models.sam'])
#: Functions ``convert(src: Path, **args) -> dict[str, Tensor]`` turning an upstream checkpoint
#: file into the state dict dense_clip loads; the zoo caches their output as safetensors.
WEIGHT_CONVERTERS = Registry('weight converter', locations=['dense_clip.zoo.converters'])

# Names under which the task registries are reachable, and where they come from.
_TASK_REGISTRIES = {
    'SEG_MODELS': ('mmseg.registry', 'MODELS'),
    'SEG_DATASETS': ('mmseg.registry', 'DATASETS'),
    'SEG_TRANSFORMS': ('mmseg.registry', 'TRANSFORMS'),
    'SEG_METRICS': ('mmseg.registry', 'METRICS'),
    'SEG_HOOKS': ('mmseg.registry', 'HOOKS'),
    'SEG_VISUALIZERS': ('mmseg.registry', 'VISUALIZERS'),
    'DET_MODELS': ('mmdet.registry', 'MODELS'),
    'DET_DATASETS': ('mmdet.registry', 'DATASETS'),
    'DET_TRANSFORMS': ('mmdet.registry', 'TRANSFORMS'),
    'DET_METRICS': ('mmdet.registry', 'METRICS'),
    'DET_HOOKS': ('mmdet.registry', 'HOOKS'),
    'DET_VISUALIZERS': ('mmdet.registry', 'VISUALIZERS'),
}


def __getattr__(name: str) -> Registry:
    """Returns a task registry (importing its package) on first access."""
    if name not in _TASK_REGISTRIES:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module_name, attr = _TASK_REGISTRIES[name]
    return getattr(importlib.import_module(module_name), attr)


def check_arguments(factory: Any, given: Mapping[str, Any], where: str) -> None:
    """Raises if a config gives ``factory`` settings that its signature does not take.

    Factories with ``**kwargs`` (which pass settings on) and ones without a readable signature
    are not checked; a class that inherits ``torch.nn.Module``'s (or ``object``'s)
    constructor takes no settings. ``type`` is never an argument.

    Args:
        factory: a class or function.
        given: the settings from the config.
        where: the config path of ``given``, e.g. ``'model'`` or ``'model.clip'``.

    Raises:
        ValueError: one line naming each unknown key with its config path, close matches and
            the valid names.
    """
    owner = next((c for c in getattr(factory, '__mro__', ()) if '__init__' in vars(c)), None)
    if owner is object or (owner is not None and (owner.__module__, owner.__name__) == (
            'torch.nn.modules.module', 'Module')):
        parameters = {}
    else:
        try:
            parameters = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    valid = [name for name, p in parameters.items() if name != 'self' and p.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    unknown = sorted(k for k in given if k != 'type' and k not in valid)
    if not unknown:
        return
    guesses = [f'{where}.{close[0]}' for key in unknown
               if (close := difflib.get_close_matches(key, valid, n=1, cutoff=0.6))]
    hint = f' (did you mean {", ".join(guesses)}?)' if guesses else ''
    name = getattr(factory, '__name__', str(factory))
    raise ValueError(f'unknown setting {", ".join(f"{where}.{k}" for k in unknown)}{hint}: '
                     f'{name} takes {", ".join(valid) or "no settings"}')


def build_component(registry: Registry, cfg: Any, base: type | None = None) -> Any:
    """Builds an entry of one of dense_clip's component registries.

    Args:
        registry: ``LAST_BLOCKS``, ``PROXY_MODELS``, ``TEACHERS``, ``SEG_HEADS`` or
            ``SEG_STEPS``.
        cfg: an instance of ``base`` (returned as is), a registered name (any case), or a dict
            whose ``type`` is a registered name or a class; the other keys are its arguments.
        base: the class every entry derives from; lets instances pass through unchanged.

    Returns:
        The built object.

    Raises:
        ValueError: unknown name, a config without a type (the message lists the valid names),
            or a setting the entry does not take (see :func:`check_arguments`).
    """
    if base is not None and isinstance(cfg, base):
        return cfg
    registry.import_from_location()
    valid = sorted(registry.module_dict)
    cfg = {'type': cfg} if isinstance(cfg, str) else dict(cfg or {})
    kind = cfg.pop('type', None)
    if isinstance(kind, str):
        by_lower = {name.lower(): name for name in registry.module_dict}
        if kind.lower() not in by_lower:
            raise ValueError(f'unknown {registry.name} {kind!r}; valid: {valid}')
        factory = registry.module_dict[by_lower[kind.lower()]]
    elif isinstance(kind, type) and (base is None or issubclass(kind, base)):
        factory = kind
    else:
        raise ValueError(f'a {registry.name} config needs a type (a name or a class), got '
                         f'{kind!r}; valid: {valid}')
    check_arguments(factory, cfg, f'{registry.name} {factory.__name__}')
    # Instantiated directly: Registry.build would switch to the caller's default scope (mmseg,
    # mmdet), which these standalone registries do not belong to.
    return factory(**cfg)
