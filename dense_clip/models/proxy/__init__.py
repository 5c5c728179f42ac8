"""Proxy vision models (DINO, DINOv2, SAM) giving L2-normalised patch features.

Build them by name: ``build_proxy_model(dict(type='dino_vitb8', pretrained=True))``. Every
builder takes ``tiny=True`` for a random-weight test build (width 32, 2 blocks) that reads no
files; ``shrink_proxies(cfg)`` sets it on every proxy dict inside a model config (under the keys
``proxy`` and ``teacher``).
"""

from __future__ import annotations

import copy
from typing import Any

from dense_clip.registry import PROXY_MODELS, build_component

from .base import CLIP_MEAN_01, CLIP_STD_01, IMAGENET_MEAN_01, IMAGENET_STD_01, ProxyModel
from .sam import SAMProxy
from .timm_vit import TimmViTProxy

__all__ = ['PROXY_MODELS', 'ProxyModel', 'TimmViTProxy', 'SAMProxy', 'build_proxy_model',
           'shrink_proxies', 'CLIP_MEAN_01', 'CLIP_STD_01', 'IMAGENET_MEAN_01',
           'IMAGENET_STD_01']

def build_proxy_model(cfg: ProxyModel | str | dict) -> ProxyModel:
    """Builds a proxy from an instance, a registered name or a dict with ``type``.

    Raises:
        ValueError: unknown name; the message lists the registered ones.
    """
    return build_component(PROXY_MODELS, cfg, ProxyModel)


def shrink_proxies(cfg: Any) -> Any:
    """A copy of a config in which every dict under a ``proxy`` / ``teacher`` key with a
    registered proxy ``type`` gets ``tiny=True`` (random tiny weights, no files read)."""
    cfg = copy.deepcopy(cfg)
    PROXY_MODELS.import_from_location()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ('proxy', 'teacher') and isinstance(value, dict) \
                        and value.get('type') in PROXY_MODELS.module_dict:
                    value['tiny'] = True
                visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(cfg)
    return cfg
