"""The proxy-model interface: a frozen vision model giving L2-normalised patch features.

Proxy models ("vision foundation models" in ProxyCLIP, the "teacher" in CLIP-DINOiser) see the
same images as CLIP. Inputs arrive CLIP-normalised; ``ProxyModel`` undoes CLIP's normalisation and
applies the proxy's own pixel statistics before the backbone runs.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dense_clip.models.clip.constants import CLIP_MEAN_01, CLIP_STD_01

__all__ = ['CLIP_MEAN_01', 'CLIP_STD_01', 'IMAGENET_MEAN_01', 'IMAGENET_STD_01', 'ProxyModel',
           'read_weights']

# OpenAI CLIP pixel statistics in 0-1 space (122.771 / 255, ...; openai/CLIP clip.py _transform).
# ImageNet statistics: DINO, DINOv2 (timm pretrained_cfg) and SAM (123.675 / 255, ...).
IMAGENET_MEAN_01 = (0.485, 0.456, 0.406)
IMAGENET_STD_01 = (0.229, 0.224, 0.225)


def read_weights(path: str | os.PathLike) -> dict[str, Tensor]:
    """Reads a local state dict safely: .safetensors, or a weights-only torch pickle.

    ``path`` may be a model-zoo name ``zoo://NAME`` (``dense_clip.zoo``: downloaded, checked and
    converted on first use). A checkpoint dict holding ``model`` / ``state_dict`` / ``teacher``
    is unwrapped. Unreadable, truncated or refused files raise
    :class:`~dense_clip.utils.checkpoint.CheckpointError` naming the file.
    """
    from dense_clip.utils.checkpoint import load_checkpoint_file

    state: Any = load_checkpoint_file(path)
    for key in ('state_dict', 'model', 'teacher'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


class ProxyModel(nn.Module):
    """Base class: CLIP-normalised images -> L2-normalised patch features (B, C, h, w).

    Subclasses implement ``encode(pixels) -> (B, C, h, w)`` on images already normalised with
    the proxy's statistics, and ``load_pretrained()``.

    Args:
        mean: the proxy's pixel mean, 0-1 space (RGB).
        std: the proxy's pixel std, 0-1 space (RGB).
        input_mean: mean the inputs were normalised with (default: OpenAI CLIP), 0-1 space.
        input_std: std the inputs were normalised with (default: OpenAI CLIP), 0-1 space.
        pretrained: load the published weights in ``init_weights`` (hub download, never in the
            constructor).
        checkpoint: a local weight file or a model-zoo name ``zoo://NAME``, loaded in
            ``init_weights`` instead of the hub weights.

    The model is frozen: parameters never require grad and ``train()`` keeps it in eval mode.
    Weights named by ``pretrained``/``checkpoint`` are loaded by ``init_weights`` or, if nobody
    called it, lazily before the first forward pass (segmentors that only load CLIP in their
    ``init_weights`` still get a loaded proxy); ``load_state_dict`` counts as loading.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...],
                 input_mean: tuple[float, ...] = CLIP_MEAN_01,
                 input_std: tuple[float, ...] = CLIP_STD_01,
                 pretrained: bool = False, checkpoint: str | None = None) -> None:
        super().__init__()
        # in' = (x - m_in) / s_in  ->  out = (in' * s_in + m_in - m) / s = in' * a + b
        m_in, s_in = torch.tensor(input_mean), torch.tensor(input_std)
        m, s = torch.tensor(mean), torch.tensor(std)
        self.register_buffer('_scale', (s_in / s).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('_shift', ((m_in - m) / s).view(1, 3, 1, 1), persistent=False)
        self.pretrained = pretrained
        self.checkpoint = checkpoint
        self._weights_loaded = not (pretrained or checkpoint)
        self._register_load_state_dict_pre_hook(self._mark_loaded)

    def _mark_loaded(self, *args: Any, **kwargs: Any) -> None:
        self._weights_loaded = True

    # ------------------------------------------------------------------ weights
    def load_pretrained(self) -> None:
        """Loads the published weights (subclasses)."""
        raise NotImplementedError

    def load_checkpoint(self, path: str) -> None:
        """Loads a local weight file (subclasses may convert keys first)."""
        self.load_state_dict(read_weights(path))

    def init_weights(self) -> None:
        """Loads ``checkpoint`` if given, else the hub weights if ``pretrained``; idempotent."""
        if self._weights_loaded:
            return
        if self.checkpoint:
            self.load_checkpoint(self.checkpoint)
        elif self.pretrained:
            self.load_pretrained()
        self.requires_grad_(False)
        self._weights_loaded = True

    def train(self, mode: bool = True) -> ProxyModel:
        """Always eval: the proxy is a frozen feature extractor."""
        return super().train(False)

    # ------------------------------------------------------------------ forward
    @property
    def patch_size(self) -> tuple[int, int]:
        """(ph, pw) pixels per feature cell."""
        raise NotImplementedError

    def renormalise(self, images: Tensor) -> Tensor:
        """CLIP-normalised (B, 3, H, W) -> normalised with the proxy's statistics, float32."""
        return images.float() * self._scale + self._shift

    def encode(self, pixels: Tensor) -> Tensor:
        """Raw features (B, C, h, w) of proxy-normalised images (subclasses)."""
        raise NotImplementedError

    def forward(self, images: Tensor) -> Tensor:
        """Patch features of CLIP-normalised images.

        Args:
            images: (B, 3, H, W) float, normalised with ``input_mean``/``input_std``.

        Returns:
            (B, C, h, w) float32 features, L2-normalised over C, on the proxy's own grid.
        """
        if not self._weights_loaded:
            self.init_weights()
        dtype = next(self.parameters()).dtype
        feats = self.encode(self.renormalise(images).to(dtype))
        return F.normalize(feats.float(), dim=1)
