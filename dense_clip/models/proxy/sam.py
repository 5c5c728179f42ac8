"""Segment Anything's image encoder (``ImageEncoderViT``) as a proxy model, wrapped.

As in ProxyCLIP (mc-lan/ProxyCLIP ``proxyclip_segmentor.py``, ``vfm_model == 'sam'``): the
ImageNet-normalised image is resized bilinearly to the encoder's square input (1024 for the
released models, whose absolute positional embedding has a fixed 64x64 grid) and the neck output
(256 channels, 64x64) is the feature map. Architecture of ``vit_b`` from segment_anything's
``build_sam.py`` (``build_sam_vit_b``): depth 12, width 768, 12 heads, global attention in blocks
2, 5, 8, 11, window 14, relative positions, patch 16, out_chans 256.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import IMAGENET_MEAN_01, IMAGENET_STD_01, ProxyModel, read_weights

__all__ = ['SAMProxy', 'SAM_ARCHS']

SAM_ARCHS = {
    'vit_b': dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    'vit_l': dict(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
    'vit_h': dict(embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31)),
}


class SAMProxy(ProxyModel):
    """SAM's image encoder as a proxy.

    Args:
        arch_name: 'vit_b', 'vit_l' or 'vit_h'.
        arch: overrides of ``ImageEncoderViT`` arguments (e.g. a tiny ``img_size=64,
            embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1,), window_size=2,
            out_chans=16``).
        **kwargs: ``ProxyModel`` arguments. ``pretrained=True`` is not supported (SAM weights
            are not on a hub timm knows): give ``checkpoint`` (a file such as
            sam_vit_b_01ec64.pth, or the model-zoo name ``zoo://sam_vit_b``).
    """

    def __init__(self, arch_name: str = 'vit_b', arch: dict | None = None,
                 **kwargs: Any) -> None:
        from segment_anything.modeling import ImageEncoderViT

        if arch_name not in SAM_ARCHS:
            raise ValueError(f'SAM arch must be one of {sorted(SAM_ARCHS)}, got {arch_name!r}')
        if kwargs.get('pretrained') and not kwargs.get('checkpoint'):
            raise ValueError('SAM proxies load weights from a checkpoint only: give checkpoint= '
                             "a file or a zoo name such as 'zoo://sam_vit_b'")
        super().__init__(mean=IMAGENET_MEAN_01, std=IMAGENET_STD_01, **kwargs)
        settings = dict(img_size=1024, patch_size=16, mlp_ratio=4, out_chans=256, qkv_bias=True,
                        use_rel_pos=True, window_size=14,
                        norm_layer=partial(nn.LayerNorm, eps=1e-6), **SAM_ARCHS[arch_name])
        settings.update(arch or {})
        self.encoder = ImageEncoderViT(**settings)
        self.requires_grad_(False)
        self.eval()

    @property
    def patch_size(self) -> tuple[int, int]:
        return tuple(self.encoder.patch_embed.proj.kernel_size)

    def load_checkpoint(self, path: str) -> None:
        """A full SAM checkpoint (``image_encoder.*`` kept, the rest ignored) or the encoder's."""
        state = read_weights(path)
        prefix = 'image_encoder.'
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        self.encoder.load_state_dict(state, strict=True)

    def encode(self, pixels: Tensor) -> Tensor:
        size = self.encoder.img_size
        pixels = F.interpolate(pixels, size=(size, size), mode='bilinear', align_corners=False)
        return self.encoder(pixels)

    @torch.no_grad()
    def attention_parts(self, images: Tensor) -> dict[str, Tensor]:
        raise ValueError('SAM has no CLS token; use a DINO proxy for FOUND-style backgrounds')
