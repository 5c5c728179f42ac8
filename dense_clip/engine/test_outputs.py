"""What ``tools/test.py`` writes besides metrics: pictures, raw predictions, per-class results.

The flags follow mmseg's and mmdet's ``tools/test.py``; the config's ``default_scope`` picks
the task's hooks and formats:

============  =========================================  ======================================
flag          segmentation (mmseg)                       detection (mmdet)
============  =========================================  ======================================
--show-dir D  ``D/<image stem>.png``: image | prediction  ``D/<image name>``: mmdet's
              | ground truth + legend (SegShowDirHook,    DetVisualizationHook and
              SegSideBySideVisualizer)                    DetLocalVisualizer (ground truth |
                                                          prediction)
--show        a window per image (needs a display)       the same
--out PATH    a folder of predicted label PNGs            a ``.pkl`` of predictions
              (SegPredictionDump, uint16 above 255        (mmdet's DumpDetResults)
              classes)
============  =========================================  ======================================

Per-class results (:class:`~dense_clip.engine.per_class_hook.PerClassResultsHook`) are on by
default for both tasks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from mmengine.config import Config, ConfigDict

__all__ = ['TestOutputs', 'configure_test_outputs', 'display_available']


@dataclass
class TestOutputs:
    """The test tool's output options.

    Attributes:
        show_dir: Folder for one picture per test image, or None.
        show: Open a window per image.
        wait_time: Seconds each window stays open (0: until a key is pressed).
        out: Where raw predictions go (folder for segmentation, ``.pkl`` for detection).
        per_class: Write per-class tables, CSV and chart.
    """

    __test__ = False  # not a pytest test class

    show_dir: str | None = None
    show: bool = False
    wait_time: float = 2.0
    out: str | None = None
    per_class: bool = True


def display_available() -> bool:
    """Whether a window can be opened (an X11 or Wayland display; always on macOS/Windows)."""
    if sys.platform in ('darwin', 'win32'):
        return True
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def _evaluators(cfg: Config) -> list:
    evaluator = cfg.get('test_evaluator')
    if evaluator is None:
        return []
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]


def _seg(cfg: Config, outputs: TestOutputs) -> None:
    if outputs.show_dir or outputs.show:
        visualizer = ConfigDict(cfg.get('visualizer') or {})
        visualizer.update(type='SegSideBySideVisualizer', name='visualizer')
        visualizer.setdefault('vis_backends', [dict(type='LocalVisBackend')])
        cfg.visualizer = visualizer
        cfg.setdefault('default_hooks', ConfigDict())
        cfg.default_hooks.visualization = dict(
            type='SegShowDirHook', draw=True, interval=1, show=outputs.show,
            wait_time=outputs.wait_time,
            out_dir=os.path.abspath(outputs.show_dir) if outputs.show_dir else None)
    if outputs.out:
        cfg.test_evaluator = _evaluators(cfg) + [
            dict(type='SegPredictionDump', out_dir=os.path.abspath(outputs.out))]


def _det(cfg: Config, outputs: TestOutputs) -> None:
    if outputs.show_dir or outputs.show:
        if not cfg.get('visualizer'):
            cfg.visualizer = dict(type='DetLocalVisualizer', name='visualizer',
                                  vis_backends=[dict(type='LocalVisBackend')])
        cfg.setdefault('default_hooks', ConfigDict())
        cfg.default_hooks.visualization = dict(
            type='DetVisualizationHook', draw=True, interval=1, show=outputs.show,
            wait_time=outputs.wait_time,
            test_out_dir=os.path.abspath(outputs.show_dir) if outputs.show_dir else None)
    if outputs.out:
        if not outputs.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {outputs.out}: detection predictions are dumped as a '
                             'pickle file; give a path ending in .pkl')
        cfg.test_evaluator = _evaluators(cfg) + [
            dict(type='DumpDetResults', out_file_path=os.path.abspath(outputs.out))]


# default_scope -> how that task's outputs are configured
_TASK_SETUPS: dict[str, Callable[[Config, TestOutputs], None]] = {'mmseg': _seg, 'mmdet': _det}


def configure_test_outputs(cfg: Config, outputs: TestOutputs) -> Config:
    """Sets ``cfg``'s visualizer, visualisation hook, evaluators and hooks for ``outputs``.

    Args:
        cfg: A loaded dense_clip config (``default_scope`` ``'mmseg'`` or ``'mmdet'``).
        outputs: The requested outputs.

    Returns:
        ``cfg``, changed in place.

    Raises:
        ValueError: ``show`` without a display, a detection ``out`` that is not ``.pkl``, or a
            ``default_scope`` without a setup (the message lists the valid ones).
    """
    scope = cfg.get('default_scope')
    if scope not in _TASK_SETUPS:
        raise ValueError(f'default_scope={scope!r}; test outputs exist for '
                         f'{", ".join(sorted(_TASK_SETUPS))}')
    if outputs.show and not display_available():
        raise ValueError('--show needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set); '
                         'use --show-dir DIR to write the pictures instead')
    _TASK_SETUPS[scope](cfg, outputs)
    if outputs.per_class:
        hooks = list(cfg.get('custom_hooks') or [])
        if not any(h.get('type') == 'PerClassResultsHook' for h in hooks):
            hooks.append(dict(type='PerClassResultsHook'))
        cfg.custom_hooks = hooks
    return cfg
