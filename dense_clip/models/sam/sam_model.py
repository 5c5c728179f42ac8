"""A Segment Anything model as a module: built pure, weights loaded in ``init_weights``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .build import build_sam, load_sam_weights

__all__ = ['SAMModel', 'to_rgb_uint8']


def to_rgb_uint8(image: Tensor | np.ndarray) -> np.ndarray:
    """An RGB image as SAM's predictor wants it: (H, W, 3) uint8, 0-255, C-contiguous.

    Args:
        image: (H, W, 3) uint8 array or tensor, or (3, H, W) uint8 tensor.

    Raises:
        ValueError: another shape or dtype (the message gives them).
    """
    if isinstance(image, Tensor):
        array = image.detach().cpu()
        if array.ndim == 3 and array.shape[0] == 3 and array.shape[-1] != 3:
            array = array.permute(1, 2, 0)
        array = array.numpy()
    else:
        array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise ValueError(f'SAM takes an (H, W, 3) uint8 RGB image, got shape {array.shape} '
                         f'and dtype {array.dtype}')
    if min(array.shape[:2]) < 1:
        raise ValueError(f'SAM got an empty image of shape {array.shape}')
    return np.ascontiguousarray(array)


class SAMModel(nn.Module):
    """Owns a segment_anything ``Sam`` and its weights.

    Args:
        model_type: 'vit_b', 'vit_l' or 'vit_h' (``SAM_MODEL_TYPES``).
        checkpoint: the authors' checkpoint file (``sam_vit_b_01ec64.pth``, ...), a
            ``.safetensors`` copy, or a model-zoo name (``'zoo://sam_vit_b'``); loaded by
            ``init_weights`` (or before the first use if nobody called it), never here. None:
            random weights (tests).
        tiny: a tiny random model (``TINY_SAM``; tests). No checkpoint is read.
        arch: size overrides, see :func:`build_sam`.

    The model is frozen and always in eval mode.
    """

    def __init__(self, model_type: str = 'vit_b', checkpoint: str | None = None,
                 tiny: bool = False, arch: dict | None = None) -> None:
        super().__init__()
        self.model_type = model_type
        self.checkpoint = None if tiny else checkpoint
        self.sam = build_sam(model_type, tiny=tiny, arch=arch).requires_grad_(False)
        self._weights_loaded = self.checkpoint is None
        self._register_load_state_dict_pre_hook(self._mark_loaded)

    def _mark_loaded(self, *args: Any, **kwargs: Any) -> None:
        self._weights_loaded = True

    def init_weights(self) -> None:
        """Loads ``checkpoint`` (checking its model type); idempotent."""
        if not self._weights_loaded:
            load_sam_weights(self.sam, self.checkpoint)
            self._weights_loaded = True

    def ready(self) -> nn.Module:
        """The ``Sam``, with its weights loaded."""
        self.init_weights()
        return self.sam

    @property
    def image_size(self) -> int:
        """Side of SAM's square encoder input (1024 for the released models)."""
        return int(self.sam.image_encoder.img_size)

    @property
    def device(self) -> torch.device:
        return self.sam.device

    def train(self, mode: bool = True) -> SAMModel:
        """Always eval: SAM is used frozen."""
        return super().train(False)

    def extra_repr(self) -> str:
        return f'model_type={self.model_type!r}, checkpoint={self.checkpoint!r}'
