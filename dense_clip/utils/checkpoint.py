"""Checkpoint loading that stays safe on torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 saves training
checkpoints that also hold its message hub (``HistoryBuffer`` objects with numpy arrays), so its
own local loader fails on them. Instead of turning ``weights_only`` off, dense_clip replaces
mmengine's loader for local paths (through mmengine's ``CheckpointLoader.register_scheme``) with
one that keeps ``weights_only=True`` and allows, inside that one call, exactly the classes mmengine
writes into its checkpoints. Anything else in a pickle is refused with an error naming the file.
Remote checkpoints keep mmengine's HTTP loader, which goes through ``torch.hub`` with
``weights_only=True``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

__all__ = [
    'CheckpointError',
    'check_state_dict_matches',
    'install_mmengine_checkpoint_loader',
    'safe_torch_load',
]


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: unreadable, unsafe, or for another architecture."""


def _mmengine_checkpoint_globals() -> list:
    """Classes mmengine 0.10 pickles into training checkpoints besides tensors."""
    from mmengine.logging.history_buffer import HistoryBuffer

    numpy_core = getattr(np, '_core', None) or np.core
    allowed = [
        HistoryBuffer,
        numpy_core.multiarray._reconstruct,
        numpy_core.multiarray.scalar,
        np.ndarray,
        np.dtype,
    ]
    # numpy >= 1.25 pickles dtypes through per-type classes (numpy.dtypes.Float64DType, ...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    return allowed


def safe_torch_load(filename: str | os.PathLike, map_location='cpu') -> object:
    """Loads a torch pickle with ``weights_only=True``, allowing mmengine's checkpoint classes.

    Args:
        filename: Path of a ``.pth``/``.pt`` file.
        map_location: As for :func:`torch.load`.

    Returns:
        The unpickled object (a checkpoint dict or a state dict).

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        CheckpointError: the file is not a torch checkpoint, or it needs classes that a
            weights-only load refuses (the message names them).
    """
    filename = os.path.expanduser(os.fspath(filename))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(_mmengine_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise CheckpointError(
            f'{filename}: refused by the weights-only loader ({first_line}). dense_clip never '
            'unpickles arbitrary objects; re-save the file as a plain state dict or safetensors.'
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(
            f'{filename}: not a readable torch checkpoint (truncated or corrupt?): {err}'
        ) from err


def install_mmengine_checkpoint_loader() -> None:
    """Registers :func:`safe_torch_load` as mmengine's loader for local checkpoint paths.

    Uses mmengine's own extension point; idempotent.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    def load_from_local(filename: str, map_location=None) -> object:
        return safe_torch_load(filename, map_location=map_location)

    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


def check_state_dict_matches(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str
) -> None:
    """Raises if ``state_dict`` does not fit ``model`` key for key and shape for shape.

    Args:
        model: The model the weights are meant for.
        state_dict: Parameter and buffer tensors by name (``module.`` prefixes already removed).
        source: Where the weights came from (a path), used in the message.

    Raises:
        CheckpointError: one line naming ``source`` and the first offending keys.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        f'{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}'
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or mismatched):
        return
    parts = []
    for label, items in (('missing', missing), ('unexpected', unexpected),
                         ('shape mismatch', mismatched)):
        if items:
            parts.append(f'{len(items)} {label} (e.g. {", ".join(items[:3])})')
    raise CheckpointError(
        f'checkpoint {source} does not match {type(model).__name__}: ' + '; '.join(parts)
    )
