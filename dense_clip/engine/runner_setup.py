"""Runner set-up used by tools/train.py and tools/test.py."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from mmengine.config import Config

from dense_clip.utils.checkpoint import (
    CheckpointError,
    check_state_dict_matches,
    install_mmengine_checkpoint_loader,
    load_checkpoint_file,
)

__all__ = ['check_resume_checkpoint', 'prepare_distributed', 'setup_checkpoint_loading']

# What mmengine's Runner.resume reads from a checkpoint (besides optimizer / schedulers).
_RESUME_KEYS = ('meta', 'state_dict', 'message_hub')


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


def check_resume_checkpoint(runner: object) -> str | None:
    """Checks the checkpoint ``runner`` will resume from, before training starts.

    mmengine resumes from ``load_from`` or, with none, from the work dir's latest checkpoint;
    it then reads ``meta`` (a ``KeyError`` for plain weights) and loads the weights
    non-strictly (a checkpoint of another model would load in part, with a warning). Here the
    file must be a training checkpoint (``meta`` with the iteration, ``state_dict``,
    ``message_hub``) whose weights fit the model key for key and shape for shape.

    Args:
        runner: an mmengine ``Runner`` built with ``resume=True``.

    Returns:
        The checkpoint path, or None when there is nothing to resume from (training starts
        from scratch, as mmengine does).

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        CheckpointError: it is unreadable, not a training checkpoint, or another model's.
    """
    from mmengine.runner import find_latest_checkpoint

    path = runner._load_from or find_latest_checkpoint(runner.work_dir)
    if not path:
        return None
    checkpoint = load_checkpoint_file(path)
    missing = [k for k in _RESUME_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if missing or not isinstance(meta, dict) or 'iter' not in meta:
        raise CheckpointError(
            f'cannot resume from {path}: not a training checkpoint (no '
            f'{", ".join(missing) or "meta.iter"}); --resume needs a file tools/train.py wrote. '
            f'To start training from these weights instead, use --cfg-options load_from={path}')
    model = getattr(runner.model, 'module', runner.model)
    state_dict = {k.removeprefix('module.'): v for k, v in checkpoint['state_dict'].items()}
    try:
        check_state_dict_matches(model, state_dict, path)
    except CheckpointError as err:
        raise CheckpointError(f'cannot resume: {err}') from None
    return path
