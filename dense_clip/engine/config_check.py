"""Checks a config before anything is built or trained, so a typo costs seconds, not a run.

Used by :func:`~dense_clip.engine.config.load_config` (``tools/train.py``, ``tools/test.py``):

* a config file with a syntax error is named with its line (mmengine parses the top file
  without its name);
* top-level keys that nothing reads are reported (warnings): keys spelled close to one the
  runner reads (``train_cgf``), mmcv 0.x keys mmengine ignores (``optimizer``, ``lr_config``),
  and keys ``--cfg-options`` adds that the config did not have;
* ``model`` settings that a dense_clip model does not take (an error naming the key, close
  matches and the valid names, instead of a ``TypeError`` traceback);
* hook settings: unknown keys (mmengine's ``CheckpointHook`` passes unknown keys on to
  ``Runner.save_checkpoint``, where they fail at the first save, after a whole interval of
  training), a checkpoint ``interval`` of 0 or a ``filename_tmpl`` without ``{}``, and a
  checkpoint folder that cannot be written.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import os
from collections.abc import Iterable, Mapping
from typing import Any

from mmengine.config import Config

from dense_clip.registry import check_arguments

__all__ = ['RUNNER_KEYS', 'check_config_syntax', 'check_hooks', 'check_model_settings',
           'unread_keys']

#: Top-level keys mmengine's Runner (``Runner.from_cfg`` and its set-up) and the dense_clip
#: tools read.
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'model_wrapper_cfg', 'compile',
    'runner_type', 'custom_imports', 'classnames', 'tta_model', 'tta_pipeline',
})
#: Helper variables OpenMMLab configs conventionally define for other settings to use.
HELPER_KEYS = frozenset({
    'train_pipeline', 'val_pipeline', 'test_pipeline', 'dataset_type', 'data_root', 'metainfo',
    'img_scale', 'crop_size', 'norm_cfg', 'backend_args', 'vis_backends', 'img_norm_cfg',
    'num_classes', 'checkpoint', 'pretrained', 'max_iters', 'max_epochs', 'val_interval',
})
#: mmcv 0.x / mmseg 0.x keys that mmengine no longer reads -> what replaced them.
LEGACY_KEYS = {
    'optimizer': 'optim_wrapper.optimizer', 'optimizer_config': 'optim_wrapper',
    'lr_config': 'param_scheduler', 'runner': 'train_cfg', 'workflow': 'train_cfg',
    'checkpoint_config': 'default_hooks.checkpoint', 'log_config': 'default_hooks.logger',
    'evaluation': 'val_cfg and val_evaluator', 'dist_params': 'env_cfg.dist_cfg',
}
# default_scope -> the dense_clip.registry names of that task's model and hook registries
_TASK_REGISTRIES = {'mmseg': ('SEG_MODELS', 'SEG_HOOKS'), 'mmdet': ('DET_MODELS', 'DET_HOOKS')}
# What CheckpointHook passes to Runner.save_checkpoint itself; its other keys go there too.
_SAVE_ARGS_OF_HOOK = {'out_dir', 'filename', 'file_client_args', 'save_optimizer',
                      'save_param_scheduler', 'meta', 'by_epoch', 'backend_args'}


# ---------------------------------------------------------------------------------- syntax
def _base_files(tree: ast.Module, path: str) -> list[str]:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == '_base_'):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                return []
            bases = [bases] if isinstance(bases, str) else list(bases)
            folder = os.path.dirname(os.path.abspath(path))
            return [os.path.join(folder, b) for b in bases
                    if isinstance(b, str) and '::' not in b and '{{' not in b]
    return []


def check_config_syntax(path: str, _seen: set[str] | None = None) -> None:
    """Checks that a Python config and its ``_base_`` files parse.

    Raises:
        ValueError: the file, line and column of the first syntax error, with that line.
    """
    seen = set() if _seen is None else _seen
    path = os.path.abspath(path)
    if path in seen or not path.endswith('.py') or not os.path.isfile(path):
        return
    seen.add(path)
    with open(path, encoding='utf-8') as file:
        source = file.read()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as err:
        line = (err.text or '').strip()
        raise ValueError(f'syntax error in config {path}, line {err.lineno}, column '
                         f'{err.offset}: {err.msg}' + (f': {line}' if line else '')) from None
    for base in _base_files(tree, path):
        check_config_syntax(base, seen)


# ---------------------------------------------------------------------------------- top level
def _close(key: str, known: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return found[0] if found else None


def unread_keys(cfg: Config, before: set[str], overrides: Mapping[str, Any] | None) -> list[str]:
    """Messages about top-level keys nothing reads.

    Args:
        cfg: the config after ``--cfg-options``.
        before: its top-level keys before them.
        overrides: the ``--cfg-options`` dict (dotted keys).

    Returns:
        One message per suspicious key (empty when none).
    """
    messages = []
    for key in sorted(set(cfg.keys()) - RUNNER_KEYS - (HELPER_KEYS & before)):
        if key in LEGACY_KEYS:
            messages.append(f'config key {key!r} is an mmcv 0.x setting that mmengine does not '
                            f'read; set {LEGACY_KEYS[key]} instead')
        elif key not in before:
            options = [k for k in overrides or {} if k.split('.')[0] == key]
            close = _close(key, RUNNER_KEYS | before)
            hint = f'; did you mean {close!r}?' if close else ''
            messages.append(f'--cfg-options {", ".join(options) or key}: the config has no '
                            f'{key!r} and nothing reads it{hint}')
        elif (close := _close(key, RUNNER_KEYS)) is not None:
            messages.append(f'config key {key!r} is read by nothing; did you mean {close!r}?')
    return messages


# ---------------------------------------------------------------------------------- model
def _task_registry(cfg: Config, index: int) -> Any:
    from dense_clip import registry

    names = _TASK_REGISTRIES.get(cfg.get('default_scope'))
    return None if names is None else getattr(registry, names[index])


def check_model_settings(cfg: Config) -> None:
    """Checks ``model``'s keys against the signature of its class, if dense_clip defines it.

    Nested parts are checked where they are built (``build_component``, the segmentor's
    ``clip``, ``encoder``, ``text`` and ``test_cfg``).

    Raises:
        ValueError: a setting the model class does not take (see ``check_arguments``).
    """
    model = cfg.get('model')
    registry = _task_registry(cfg, 0)
    if not isinstance(model, Mapping) or registry is None or not isinstance(model.get('type'),
                                                                             str):
        return
    cls = registry.get(model['type'])
    if inspect.isclass(cls) and cls.__module__.startswith('dense_clip.'):
        check_arguments(cls, model, 'model')


# ---------------------------------------------------------------------------------- hooks
def _hook_configs(cfg: Config) -> list[tuple[str, Mapping]]:
    """(config path, hook config) of every default and custom hook."""
    hooks = []
    for name, hook in (cfg.get('default_hooks') or {}).items():
        if isinstance(hook, Mapping):
            hooks.append((f'default_hooks.{name}', hook))
    for index, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, Mapping):
            hooks.append((f'custom_hooks[{index}]', hook))
    return hooks


def _check_checkpoint_hook(cls: type, where: str, hook: Mapping, cfg: Config) -> None:
    from mmengine.runner import Runner

    valid = {name for name, p in inspect.signature(cls).parameters.items()
             if p.kind is not inspect.Parameter.VAR_KEYWORD}
    runner_valid = set(inspect.signature(Runner.save_checkpoint).parameters) - {'self'}
    extra = sorted(k for k in hook if k != 'type' and k not in valid
                   and k not in runner_valid - _SAVE_ARGS_OF_HOOK)
    if extra:
        guesses = [f'{where}.{c}' for k in extra if (c := _close(k, valid))]
        hint = f' (did you mean {", ".join(guesses)}?)' if guesses else ''
        raise ValueError(
            f'unknown setting {", ".join(f"{where}.{k}" for k in extra)}{hint}: {cls.__name__} '
            f'takes {", ".join(sorted(valid))} (it would pass the others to '
            'Runner.save_checkpoint, which fails at the first save)')
    interval = hook.get('interval', -1)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval == 0 \
            or interval < -1:
        raise ValueError(f'{where}.interval={interval!r}: give a whole number of '
                         'iterations (or epochs) >= 1, or -1 for no periodic checkpoints')
    template = hook.get('filename_tmpl')
    if template is not None:
        try:
            distinct = str(template).format(1) != str(template).format(2)
        except (IndexError, KeyError, ValueError):
            distinct = False
        if not distinct:
            raise ValueError(f'{where}.filename_tmpl={template!r}: it needs one {{}} for the '
                             "step, e.g. 'iter_{}.pth'")
    out_dir = hook.get('out_dir') or cfg.get('work_dir')
    if isinstance(out_dir, str) and '://' not in out_dir:
        _check_writable(out_dir, f'{where}.out_dir' if hook.get('out_dir') else 'work_dir')


def _check_writable(folder: str, where: str) -> None:
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f'{where} {folder!r}: checkpoints cannot be written there '
                         f'({existing} is not a writable folder)')


def check_hooks(cfg: Config) -> None:
    """Checks every ``default_hooks`` / ``custom_hooks`` entry before the runner is built.

    Raises:
        ValueError: a setting the hook does not take, or a checkpoint setting that would fail
            or misbehave only once training runs (see the module docstring).
    """
    from mmengine.hooks import CheckpointHook

    registry = _task_registry(cfg, 1)
    if registry is None:
        return
    for where, hook in _hook_configs(cfg):
        # the runner takes 'priority' off every hook config before building the hook
        hook = {k: v for k, v in hook.items() if k != 'priority'}
        kind = hook.get('type')
        if kind is None and where.startswith('default_hooks.'):
            raise ValueError(
                f'{where} has no type: it replaces the default {where.split(".")[1]} hook '
                f'entirely, with {dict(hook)}; give the type too (e.g. '
                f"{where}.type=CheckpointHook) or check the key's spelling")
        cls = registry.get(kind) if isinstance(kind, str) else kind
        if not inspect.isclass(cls):
            continue  # an unknown type is the registry's error, raised when the runner builds
        if issubclass(cls, CheckpointHook):
            _check_checkpoint_hook(cls, where, hook, cfg)
        else:
            check_arguments(cls, hook, where)
