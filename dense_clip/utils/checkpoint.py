"""Checkpoint loading that stays safe on torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 saves training
checkpoints that also hold its message hub (``HistoryBuffer`` objects with numpy arrays), so its
own local loader fails on them. Instead of turning ``weights_only`` off, dense_clip replaces
mmengine's loader for local paths (through mmengine's ``CheckpointLoader.register_scheme``) with
one that keeps ``weights_only=True`` and allows, inside that one call, exactly the classes mmengine
writes into its checkpoints. Anything else in a pickle is refused with an error naming the file.
Remote checkpoints keep mmengine's HTTP loader, which goes through ``torch.hub`` with
``weights_only=True``. ``zoo://NAME`` (``dense_clip.zoo``) is a third scheme: the verified,
converted file of that model-zoo entry. Local ``.safetensors`` files load as safetensors.
"""

from __future__ import annotations

import os
import pickle
import re
import urllib.parse
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

__all__ = [
    'CheckpointError',
    'CheckpointWriteError',
    'check_state_dict_matches',
    'install_mmengine_checkpoint_loader',
    'load_checkpoint_file',
    'read_safetensors',
    'safe_torch_load',
    'write_safetensors',
]


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: unreadable, unsafe, or for another architecture."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (full disk, no permission); nothing partial is left."""


def _history_buffer_getattr(owner: object, name: str) -> object:
    """Stands in for ``builtins.getattr`` while unpickling mmengine checkpoints.

    A ``HistoryBuffer`` pickles its statistics methods by reference, as
    ``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would let a crafted pickle
    reach any attribute of any allowed class (``numpy.ndarray.tofile``, say), so only those
    lookups are served.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    methods = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in methods:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'refused attribute lookup {name!r} on {owner!r}')


def _mmengine_checkpoint_globals() -> list:
    """Classes mmengine 0.10 pickles into training checkpoints besides tensors."""
    from mmengine.logging.history_buffer import HistoryBuffer

    numpy_core = getattr(np, '_core', None) or np.core
    allowed = [
        (_history_buffer_getattr, 'builtins.getattr'),
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


def _refusal(err: pickle.UnpicklingError) -> tuple[str, str]:
    """(kind, detail) of a weights-only refusal: kind 'global' (the pickle imports an object
    that is not allowed; detail: its name) or 'bytes' (not a pickle torch reads at all)."""
    text = str(err)
    found = re.search(r'GLOBAL ([\w.]+)', text)
    if found:
        return 'global', found.group(1)
    found = re.search(r'(Unsupported [^\n]*|invalid load key[^\n]*)', text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return 'bytes', (found.group(1).strip() if found else lines[-1] if lines else repr(err))[:200]


def safe_torch_load(filename: str | os.PathLike, map_location='cpu') -> object:
    """Loads a torch pickle with ``weights_only=True``, allowing mmengine's checkpoint classes.

    Args:
        filename: Path of a ``.pth``/``.pt`` file.
        map_location: As for :func:`torch.load`.

    Returns:
        The unpickled object (a checkpoint dict or a state dict).

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        CheckpointError: one line naming the file and saying why: it is not a readable torch
            checkpoint (random, truncated or another kind of file), or its pickle needs an object a
            weights-only load refuses because loading it could run code (the message names it
            and says how to convert the file).
    """
    filename = os.path.expanduser(os.fspath(filename))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        with torch.serialization.safe_globals(_mmengine_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        kind, detail = _refusal(err)
        if kind == 'global':
            raise CheckpointError(
                f'{filename}: refused by the weights-only loader because its pickle needs '
                f'{detail}, which is neither a tensor nor a plain container: loading it could '
                'run code. dense_clip never unpickles arbitrary objects; if you trust the file, '
                "re-save its tensors (e.g. its 'state_dict') as .safetensors and use that"
            ) from err
        raise CheckpointError(
            f'{filename}: not a readable torch checkpoint: its bytes are no pickle torch reads '
            f'({detail}); a truncated download or another kind of file?') from err
    except MemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - corrupt bytes fail in many ways inside torch.load
        text = ' '.join(str(err).split())[:200]
        raise CheckpointError(
            f'{filename}: not a readable torch checkpoint (truncated or corrupt?): '
            f'{type(err).__name__}{": " + text if text else ""}') from err


def read_safetensors(filename: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Reads a ``.safetensors`` file on the CPU: its tensors and its metadata.

    Returns:
        (name -> tensor, the header's ``__metadata__`` strings, empty when there are none).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a truncated, random or otherwise unreadable file (the message names it).
    """
    from safetensors import SafetensorError, safe_open

    filename = os.path.expanduser(os.fspath(filename))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        with safe_open(filename, framework='pt', device='cpu') as file:
            metadata = dict(file.metadata() or {})
            tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f'{filename}: not a readable safetensors file (truncated or '
                              f'corrupt?): {" ".join(str(err).split())[:200]}') from err
    return tensors, metadata


def write_safetensors(tensors: Mapping[str, torch.Tensor], filename: str | os.PathLike,
                      metadata: dict[str, str] | None = None) -> None:
    """Writes tensors (CPU, contiguous copies) and ``metadata`` to a ``.safetensors`` file
    atomically: a temporary file in the same folder, then a rename; nothing partial is left."""
    import tempfile

    from safetensors.torch import save_file

    filename = os.fspath(filename)
    folder, name = os.path.split(filename)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    handle, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.tmp', dir=folder or '.')
    os.close(handle)
    try:
        save_file(state, tmp, metadata=metadata)
        os.replace(tmp, filename)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_checkpoint_file(filename: str | os.PathLike, map_location='cpu') -> object:
    """Loads a checkpoint weights-only: a ``zoo://NAME``, a ``.safetensors`` file or a pickle.

    Args:
        filename: ``zoo://NAME`` (downloaded, checked and converted by ``dense_clip.zoo``), a
            ``.safetensors`` file, or a torch pickle (read by :func:`safe_torch_load`).
        map_location: as for :func:`torch.load` (safetensors load on the CPU).

    Returns:
        A checkpoint dict or a state dict.

    Raises:
        FileNotFoundError, CheckpointError: see :func:`safe_torch_load` and
            :func:`read_safetensors`.
        dense_clip.zoo.ZooError: the zoo name cannot be resolved.
    """
    filename = os.fspath(filename)
    if filename.startswith('zoo://'):
        from dense_clip.zoo import resolve

        filename = str(resolve(filename))
    if filename.endswith('.safetensors'):
        return read_safetensors(filename)[0]
    return safe_torch_load(filename, map_location=map_location)


def download_checkpoint(url: str, model_dir: str | None = None) -> str:
    """Downloads ``url`` into the torch hub cache (once) and returns the local path.

    The file is written to a temporary name and moved into place only when complete, so an
    interrupted download never leaves a partial checkpoint. A file name of the form
    ``name-<hex>.pth`` is checked against that sha256 prefix (torch hub's convention).
    """
    model_dir = model_dir or os.path.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    name = os.path.basename(urllib.parse.urlparse(url).path)
    path = os.path.join(model_dir, name)
    if not os.path.isfile(path):
        match = re.search(r'-([a-f0-9]{8,})\.', name)
        torch.hub.download_url_to_file(url, path, hash_prefix=match.group(1) if match else None,
                                       progress=False)
    return path


def install_mmengine_checkpoint_loader() -> None:
    """Registers weights-only loaders for mmengine's local, http(s) and ``zoo://`` paths.

    mmengine's own http loader goes through ``torch.hub.load_state_dict_from_url``, whose
    default is ``weights_only=False``; both schemes are replaced through mmengine's extension
    point (``CheckpointLoader.register_scheme``). Idempotent.
    """
    from mmengine.dist import get_dist_info
    from mmengine.runner.checkpoint import CheckpointLoader

    def load_from_local(filename: str, map_location=None) -> object:
        return load_checkpoint_file(filename, map_location=map_location)

    def load_from_http(filename: str, map_location=None, model_dir=None, **_) -> object:
        rank, world_size = get_dist_info()
        if rank == 0:
            path = download_checkpoint(filename, model_dir)
        if world_size > 1:
            torch.distributed.barrier()
            if rank > 0:
                path = download_checkpoint(filename, model_dir)
        return safe_torch_load(path, map_location=map_location)

    def load_from_zoo(filename: str, map_location=None) -> object:
        rank, world_size = get_dist_info()
        if world_size > 1 and rank > 0:  # rank 0 downloads and converts first
            torch.distributed.barrier()
        checkpoint = load_checkpoint_file(filename, map_location=map_location)
        if world_size > 1 and rank == 0:
            torch.distributed.barrier()
        return checkpoint

    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), loader=load_from_http,
                                     force=True)
    CheckpointLoader.register_scheme(prefixes='zoo://', loader=load_from_zoo, force=True)


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
