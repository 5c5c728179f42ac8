"""DINO / DINOv2 ViTs from timm as proxy models (wrapped, never copied).

Features (``feature``):
* ``'x'``: the last block's output tokens after the final norm, prefix tokens (CLS, registers)
  dropped. ProxyCLIP's choice for DINO (``get_intermediate_layers(x)[0]``, which applies the
  final norm) and DINOv2 (``get_intermediate_layers(x, reshape=True)[0]``, norm on by default)
  in mc-lan/ProxyCLIP ``proxyclip_segmentor.py``.
* ``'q'``, ``'k'``, ``'v'``: the last block's attention projections, heads concatenated.
  CLIP-DINOiser's teacher correlations use ``'v'`` of DINO ViT-B/16 (``enc_type_feats: "v"`` in
  wysoczanska/clip_dinoiser ``configs/clip_dinoiser.yaml``; ``extract_feats`` there).

Inputs of any size: timm is built with ``dynamic_img_size=True`` (positional embeddings
interpolated to the grid); a remainder that is not a multiple of the patch is dropped (bottom rows,
right columns), as a strided patch convolution would.
"""

from __future__ import annotations

from typing import Any

import timm
import torch
from torch import Tensor

from .base import IMAGENET_MEAN_01, IMAGENET_STD_01, ProxyModel, read_weights

__all__ = ['TimmViTProxy', 'TIMM_FEATURES']

TIMM_FEATURES = ('x', 'q', 'k', 'v')


class TimmViTProxy(ProxyModel):
    """A timm VisionTransformer as a proxy.

    Args:
        model_name: timm name with its weight tag, e.g. ``'vit_base_patch8_224.dino'``.
        feature: 'x', 'q', 'k' or 'v' (see the module docstring).
        arch: overrides passed to ``timm.create_model`` (e.g. ``depth=2, embed_dim=32,
            num_heads=2, img_size=32`` for a tiny test build).
        **kwargs: ``ProxyModel`` arguments (pretrained, checkpoint, input_mean, input_std).
    """

    def __init__(self, model_name: str, feature: str = 'x', arch: dict | None = None,
                 **kwargs: Any) -> None:
        if feature not in TIMM_FEATURES:
            raise ValueError(f'feature must be one of {TIMM_FEATURES}, got {feature!r}')
        model = timm.create_model(model_name, pretrained=False, num_classes=0,
                                  dynamic_img_size=True, **(arch or {}))
        cfg = model.pretrained_cfg
        super().__init__(mean=tuple(cfg.get('mean', IMAGENET_MEAN_01)),
                         std=tuple(cfg.get('std', IMAGENET_STD_01)), **kwargs)
        self.model_name = model_name
        self.feature = feature
        self.vit = model
        self.requires_grad_(False)
        self.eval()

    @property
    def patch_size(self) -> tuple[int, int]:
        return tuple(self.vit.patch_embed.patch_size)

    @property
    def num_prefix_tokens(self) -> int:
        return self.vit.num_prefix_tokens

    def load_pretrained(self) -> None:
        """timm's hub weights for ``model_name`` (timm's own key filter and pos-embed resize)."""
        from timm.models import load_pretrained
        from timm.models.vision_transformer import checkpoint_filter_fn

        load_pretrained(self.vit, pretrained_cfg=self.vit.pretrained_cfg, num_classes=0,
                        filter_fn=checkpoint_filter_fn, strict=False)

    def load_checkpoint(self, path: str) -> None:
        """A local file in timm's or the original (DINO / DINOv2 hub) key layout."""
        from timm.models.vision_transformer import checkpoint_filter_fn

        state = checkpoint_filter_fn(read_weights(path), self.vit)
        state = {k: v for k, v in state.items() if not k.startswith('head.')}
        self.vit.load_state_dict(state, strict=True)

    def _crop(self, pixels: Tensor) -> Tensor:
        ph, pw = self.patch_size
        h, w = pixels.shape[-2] // ph * ph, pixels.shape[-1] // pw * pw
        if h == 0 or w == 0:
            raise ValueError(f'input {tuple(pixels.shape[-2:])} smaller than a patch {(ph, pw)}')
        return pixels[..., :h, :w]

    def tokens(self, pixels: Tensor) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """Runs the ViT once.

        Returns:
            (final-normed tokens (B, P + N, C), last block's qkv (B, P + N, 3C), grid (h, w)),
            P = number of prefix tokens.
        """
        pixels = self._crop(pixels)
        grid = (pixels.shape[-2] // self.patch_size[0], pixels.shape[-1] // self.patch_size[1])
        captured: dict[str, Tensor] = {}
        handle = self.vit.blocks[-1].attn.qkv.register_forward_hook(
            lambda module, args, out: captured.__setitem__('qkv', out))
        try:
            tokens = self.vit.forward_features(pixels)
        finally:
            handle.remove()
        return tokens, captured['qkv'], grid

    def _split_qkv(self, qkv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N, 3C) -> q, k, v each (B, heads, N, d), with the block's q/k norms."""
        attn = self.vit.blocks[-1].attn
        b, n, _ = qkv.shape
        q, k, v = qkv.reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        return attn.q_norm(q), attn.k_norm(k), v

    def encode(self, pixels: Tensor) -> Tensor:
        tokens, qkv, (h, w) = self.tokens(pixels)
        if self.feature == 'x':
            feats = tokens
        else:
            q, k, v = self._split_qkv(qkv)
            chosen = {'q': q, 'k': k, 'v': v}[self.feature]
            feats = chosen.transpose(1, 2).flatten(2)  # (B, N, heads * d)
        feats = feats[:, self.num_prefix_tokens:]
        return feats.transpose(1, 2).reshape(feats.shape[0], -1, h, w)

    @torch.no_grad()
    def attention_parts(self, images: Tensor) -> dict[str, Tensor]:
        """Features plus the last block's CLS attention and keys, for FOUND-style backgrounds.

        Args:
            images: (B, 3, H, W) CLIP-normalised.

        Returns:
            dict with 'feats' (B, C, h, w) L2-normalised features (``feature``), 'cls_attn'
            (B, heads, h, w) attention of the CLS query over the patches (softmax over all
            tokens, prefix columns dropped) and 'keys' (B, heads, h*w, d) patch keys.
        """
        if not self._weights_loaded:
            self.init_weights()
        pixels = self.renormalise(images).to(next(self.parameters()).dtype)
        tokens, qkv, (h, w) = self.tokens(pixels)
        q, k, v = self._split_qkv(qkv)
        attn = (q[:, :, :1] @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).float().softmax(-1)
        p = self.num_prefix_tokens
        cls_attn = attn[:, :, 0, p:].reshape(attn.shape[0], attn.shape[1], h, w)
        if self.feature == 'x':
            feats = tokens
        else:
            feats = {'q': q, 'k': k, 'v': v}[self.feature].transpose(1, 2).flatten(2)
        feats = feats[:, p:].transpose(1, 2).reshape(feats.shape[0], -1, h, w)
        return {'feats': torch.nn.functional.normalize(feats.float(), dim=1),
                'cls_attn': cls_attn, 'keys': k[:, :, p:].float()}
