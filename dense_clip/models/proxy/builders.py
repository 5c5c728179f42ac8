"""The registered proxy models, by name: timm DINO / DINOv2 ViTs and SAM's image encoder.

Names follow the ProxyCLIP authors' list (mc-lan/ProxyCLIP ``proxyclip_segmentor.py``:
``dino_vits8``, ``dino_vits16``, ``dino_vitb8``, ``dino_vitb16``, ``dinov2_vitb14``,
``dinov2_vitb14_reg``, ``sam_vitb``); each maps to a timm model with its weight tag or to a
segment_anything image encoder. Every builder takes ``tiny=True`` for a random-weight test build
(width 32, 2 blocks) that reads no files.
"""

from __future__ import annotations

from typing import Any

from dense_clip.registry import PROXY_MODELS

from .sam import SAMProxy
from .timm_vit import TimmViTProxy

__all__ = ['TIMM_NAMES']

# timm names with weight tags (timm hub ids 'timm/<name>').
TIMM_NAMES = {
    'dino_vits16': 'vit_small_patch16_224.dino',
    'dino_vits8': 'vit_small_patch8_224.dino',
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
        name = TIMM_NAMES[key]
        if tiny:
            patch = int(name.split('patch')[1].split('_')[0])
            arch = dict(_TINY_TIMM, img_size=4 * patch, **(arch or {}))
            kwargs.update(pretrained=False, checkpoint=None)
        return TimmViTProxy(name, arch=arch, **kwargs)

    build.__name__ = key
    build.__doc__ = f'timm ``{TIMM_NAMES[key]}`` (``TimmViTProxy``); ``tiny=True`` for tests.'
    return build


for _key in TIMM_NAMES:
    PROXY_MODELS.register_module(name=_key, module=_timm_builder(_key))


@PROXY_MODELS.register_module(name='sam_vitb')
def sam_vitb(tiny: bool = False, arch: dict | None = None, **kwargs: Any) -> SAMProxy:
    """SAM ViT-B image encoder (``SAMProxy``); ``tiny=True`` for tests."""
    if tiny:
        arch = dict(_TINY_SAM, **(arch or {}))
        kwargs.update(pretrained=False, checkpoint=None)
    return SAMProxy('vit_b', arch=arch, **kwargs)
