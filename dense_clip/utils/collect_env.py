"""Environment report: versions of the stack dense_clip runs on."""

from __future__ import annotations

import importlib
import platform
import sys

__all__ = ['collect_env', 'format_env']

_PACKAGES = (
    ('torch', 'torch'),
    ('torchvision', 'torchvision'),
    ('mmengine', 'mmengine'),
    ('mmcv', 'mmcv'),
    ('mmsegmentation', 'mmseg'),
    ('mmdet', 'mmdet'),
    ('open_clip', 'open_clip'),
    ('timm', 'timm'),
    ('segment_anything', 'segment_anything'),
    ('huggingface_hub', 'huggingface_hub'),
    ('safetensors', 'safetensors'),
    ('dense_clip', 'dense_clip'),
)


def _version(module_name: str) -> str:
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # a broken install is reported, not raised
        return f'not importable ({type(err).__name__}: {err})'
    version = getattr(module, '__version__', None)
    if version is None:
        from importlib import metadata

        try:
            version = metadata.version(module_name.replace('_', '-'))
        except metadata.PackageNotFoundError:
            version = 'installed (version unknown)'
    return str(version)


def _mmcv_ops() -> str:
    try:
        import torch
        from mmcv.ops import nms

        boxes = torch.tensor([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 4.0, 4.0]])
        kept = nms(boxes, torch.tensor([0.9, 0.8]), 0.5)[1]
        return 'compiled (nms ok)' if kept.numel() == 1 else 'compiled, nms WRONG'
    except Exception as err:
        return f'missing ({type(err).__name__}: {err})'


def collect_env() -> dict[str, str]:
    """Returns an ordered mapping of component name to version or status."""
    env = {'python': sys.version.split()[0], 'platform': platform.platform()}
    for label, module_name in _PACKAGES:
        env[label] = _version(module_name)
    env['mmcv ops'] = _mmcv_ops()
    try:
        import torch

        env['cuda available'] = str(torch.cuda.is_available())
        env['torch threads'] = str(torch.get_num_threads())
    except ImportError:
        pass
    return env


def format_env(env: dict[str, str]) -> str:
    """Formats :func:`collect_env`'s mapping as aligned ``name: value`` lines."""
    width = max(len(k) for k in env)
    return '\n'.join(f'{k.ljust(width)} : {v}' for k, v in env.items())
