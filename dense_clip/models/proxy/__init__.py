"""Proxy vision models (DINO, DINOv2, SAM) giving L2-normalised patch features.

Build them by name: ``build_proxy_model(dict(type='dino_vitb8', pretrained=True))``. Every
builder takes ``tiny=True`` for a random-weight test build (width 32, 2 blocks) that reads no
files; ``shrink_proxies(cfg)`` sets it on every proxy dict inside a model config (under the keys
``proxy`` and ``teacher``).
"""

from __future__ import annotations

import copy
from typing import Any

from mmengine.registry import Registry

from .base import CLIP_MEAN_01, CLIP_STD_01, IMAGENET_MEAN_01, IMAGENET_STD_01, ProxyModel
from .sam import SAMProxy
from .timm_vit import TimmViTProxy

__all__ = ['PROXY_MODELS', 'ProxyModel', 'TimmViTProxy', 'SAMProxy', 'build_proxy_model',
           'shrink_proxies', 'CLIP_MEAN_01', 'CLIP_STD_01', 'IMAGENET_MEAN_01',
           'IMAGENET_STD_01']

PROXY_MODELS = Registry('proxy model')

# timm names with weight tags (timm hub ids 'timm/<name>').
_TIMM_NAMES = {
    'dino_vitb16': 'vit_base_patch16_224.dino',
    'dino_vitb8': 'vit_base_patch8_224.dino',
    'dinov2_vitb14': 'vit_base_patch14_dinov2.lvd142m',
    'dinov2_vitb14_reg': 'vit_base_patch14_reg4_dinov2.lvd142m',
}
# Tiny test architectures: input size = 4 patches per side.
_TINY_TIMM = dict(depth=2, embed_dim=32, num_heads=2)
_TINY_SAM = dict(img_size=64, embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1,),
                 window_size=2, out_chans=16)


def _timm_builder(key: str):
    def build(tiny: bool = False, arch: dict | None = None, **kwargs: Any) -> TimmViTProxy:
        name = _TIMM_NAMES[key]
        if tiny:
            patch = int(name.split('patch')[1].split('_')[0])
            arch = dict(_TINY_TIMM, img_size=4 * patch, **(arch or {}))
            kwargs.update(pretrained=False, checkpoint=None)
        return TimmViTProxy(name, arch=arch, **kwargs)

    build.__name__ = key
    build.__doc__ = f'timm ``{_TIMM_NAMES[key]}`` (``TimmViTProxy``); ``tiny=True`` for tests.'
    return build


for _key in _TIMM_NAMES:
    PROXY_MODELS.register_module(name=_key, module=_timm_builder(_key))


@PROXY_MODELS.register_module(name='sam_vitb')
def sam_vitb(tiny: bool = False, arch: dict | None = None, **kwargs: Any) -> SAMProxy:
    """SAM ViT-B image encoder (``SAMProxy``); ``tiny=True`` for tests."""
    if tiny:
        arch = dict(_TINY_SAM, **(arch or {}))
        kwargs.update(pretrained=False, checkpoint=None)
    return SAMProxy('vit_b', arch=arch, **kwargs)


def build_proxy_model(cfg: ProxyModel | str | dict) -> ProxyModel:
    """Builds a proxy from an instance, a registered name or a dict with ``type``.

    Raises:
        ValueError: unknown name; the message lists the registered ones.
    """
    if isinstance(cfg, ProxyModel):
        return cfg
    cfg = {'type': cfg} if isinstance(cfg, str) else dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in PROXY_MODELS.module_dict:
        raise ValueError(f'unknown proxy model {kind!r}; valid: {sorted(PROXY_MODELS.module_dict)}')
    return PROXY_MODELS.module_dict[kind](**cfg)


def shrink_proxies(cfg: Any) -> Any:
    """A copy of a config in which every dict under a ``proxy`` / ``teacher`` key with a
    registered proxy ``type`` gets ``tiny=True`` (random tiny weights, no files read)."""
    cfg = copy.deepcopy(cfg)

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
