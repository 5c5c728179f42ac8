"""Runner set-up used by tools/train.py and tools/test.py."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from mmengine.config import Config

from dense_clip.utils.checkpoint import install_mmengine_checkpoint_loader

__all__ = ['prepare_distributed', 'setup_checkpoint_loading']


def setup_checkpoint_loading() -> None:
    """Makes mmengine load local checkpoints weights-only (see dense_clip.utils.checkpoint)."""
    install_mmengine_checkpoint_loader()


def prepare_distributed(cfg: Config, launcher: str) -> None:
    """Prepares ``cfg`` for a torchrun launch; on machines without CUDA, uses gloo on CPU.

    mmengine's pytorch launcher calls ``torch.cuda.set_device`` and wraps the model with CUDA
    ``device_ids``. Without CUDA this initialises the gloo process group itself (the Runner then
    skips its own initialisation) and selects :class:`CPUDistributedDataParallel`.
    """
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f'launcher {launcher!r} needs CUDA; on CPU use --launcher pytorch')
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
        )
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'CPUDistributedDataParallel')
    cfg.model_wrapper_cfg = wrapper
