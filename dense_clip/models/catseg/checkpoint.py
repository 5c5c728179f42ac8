"""Reading CAT-Seg weights into a :class:`CATSegModel`: the authors' files, ours, the embedded one.

Three sources, one loader (:func:`load_catseg_weights`, called from the segmentor's
``init_weights``):

* an authors' detectron2 checkpoint (``model_base.pth`` / ``model_large.pth``), converted on the
  fly by :func:`dense_clip.models.catseg.convert.from_authors`;
* a checkpoint in this codebase's keys (``tools/model_converters/catseg.py`` output, an mmengine
  training checkpoint: keys with or without the segmentor's ``catseg.`` prefix);
* ``dense_clip:catseg-tiny-synth``, the model trained on the synthetic world and shipped with the
  package: a safetensors file holding the aggregator, the guidance convs and the fine-tuned
  attention weights only (the rest is the embedded tiny CLIP).

Files are read weights-only (safetensors, or ``torch.load(weights_only=True)``). Every mismatch
is one error: a checkpoint of another tower names both towers, unknown keys are listed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from dense_clip.utils.checkpoint import CheckpointError, safe_torch_load, write_safetensors

from .convert import PREFIXES, describe_tower, from_authors, to_authors, unwrap_checkpoint

__all__ = ['EMBEDDED_WEIGHTS', 'convert_checkpoint_file', 'load_catseg_weights',
           'read_catseg_state', 'save_finetuned_weights']

DATA_DIR = Path(__file__).resolve().parents[2] / 'data' / 'catseg'
#: Embedded CAT-Seg weights by name.
EMBEDDED_WEIGHTS = {'dense_clip:catseg-tiny-synth': DATA_DIR / 'catseg_tiny_synth.safetensors'}
#: safetensors metadata marking a file that holds only the fine-tuned part of the CLIP.
PARTIAL_CLIP = ('clip_weights', 'finetuned-only')


def _resolve(source: str | os.PathLike) -> Path:
    if isinstance(source, str) and source.startswith('dense_clip:'):
        if source not in EMBEDDED_WEIGHTS:
            raise ValueError(f'unknown embedded CAT-Seg weights {source!r}; have '
                             f'{sorted(EMBEDDED_WEIGHTS)}')
        return EMBEDDED_WEIGHTS[source]
    if isinstance(source, str) and source.startswith('zoo://'):
        from dense_clip.zoo import resolve

        return resolve(source)  # the converted safetensors, in this codebase's keys
    path = Path(os.path.expanduser(os.fspath(source)))
    if not path.is_file():
        raise FileNotFoundError(f'CAT-Seg checkpoint not found: {path}')
    return path


def read_catseg_state(source: str | os.PathLike) -> tuple[dict[str, Tensor], bool]:
    """Reads a CAT-Seg checkpoint into ``CATSegModel`` keys.

    Args:
        source: a path (.pth / .pt / .safetensors), a model-zoo name (``zoo://catseg_vit-b16``)
            or an embedded name.

    Returns:
        (state dict, whether it holds only the fine-tuned part of the CLIP).
    """
    path = _resolve(source)
    partial = False
    if path.suffix == '.safetensors':
        from safetensors import safe_open
        from safetensors.torch import load_file

        try:
            with safe_open(str(path), framework='pt') as handle:
                metadata = handle.metadata() or {}
            state = load_file(str(path))
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f'{path}: not a readable safetensors file: {err}') from err
        partial = metadata.get(PARTIAL_CLIP[0]) == PARTIAL_CLIP[1]
    else:
        state = unwrap_checkpoint(safe_torch_load(path), str(path))
    if any(key.startswith(tuple(a for a, _ in PREFIXES)) for key in state):
        state = from_authors(state, str(path))
    else:
        state = {k.removeprefix('catseg.'): v for k, v in state.items()}
    return state, partial


def _check(model: nn.Module, state: Mapping[str, Tensor], partial: bool, source: str) -> None:
    expected = model.state_dict()
    ours = describe_tower(expected)
    theirs = describe_tower(state)
    if 'no image tower' not in theirs and theirs != ours:
        raise CheckpointError(f'{source} holds a CAT-Seg on a {theirs} CLIP, but the config '
                              f'builds one on a {ours} CLIP')
    unknown = sorted(k for k in state if k not in expected)
    if unknown:
        raise CheckpointError(f'{source}: {len(unknown)} key(s) this CAT-Seg does not have: '
                              f'{unknown}')
    missing = sorted(k for k in expected if k not in state
                     and not (partial and k.startswith('clip_model.')))
    if missing:
        raise CheckpointError(f'{source}: {len(missing)} key(s) missing: {missing[:10]}'
                              + (' ...' if len(missing) > 10 else ''))
    shapes = [f'{k} {tuple(v.shape)} vs {tuple(expected[k].shape)}'
              for k, v in state.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if shapes:
        raise CheckpointError(f'{source}: {len(shapes)} shape mismatch(es) (checkpoint vs '
                              f'config): {shapes[:5]}')


@torch.no_grad()
def load_catseg_weights(model: nn.Module, source: str | os.PathLike) -> list[str]:
    """Loads CAT-Seg weights into a ``CATSegModel``.

    Args:
        model: the model (its ``state_dict`` keys: ``clip_model.*``, ``aggregator.*``,
            ``guidance_upsample.*``).
        source: a checkpoint path, a model-zoo name or an embedded name (see the module
            docstring).

    Returns:
        The keys loaded.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unreadable file, unknown keys (listed), missing keys, another tower
            (both named) or other shape mismatches.
    """
    state, partial = read_catseg_state(source)
    _check(model, state, partial, str(source))
    current = model.state_dict()
    for key, value in state.items():
        current[key].copy_(value.to(current[key].dtype))
    return sorted(state)


def convert_checkpoint_file(src: str | os.PathLike, dst: str | os.PathLike,
                            to_authors_layout: bool = False,
                            feature_grid: tuple[int, int] = (24, 24),
                            window_size: int = 12) -> dict[str, Tensor]:
    """Converts a CAT-Seg checkpoint file between the authors' layout and this codebase's.

    Args:
        src: an authors' checkpoint, or one in this codebase's keys (a converted file or an
            mmengine training checkpoint of ``CATSegSegmentor``); read weights-only.
        dst: output. This codebase's layout: ``{'state_dict': {'catseg.<key>': ...}, 'meta'}``
            (``.pth``, usable as ``tools/test.py`` CHECKPOINT or ``model.weights``) or a flat
            ``.safetensors``; the authors' layout: ``{'model': ...}`` as detectron2 saves it.
        to_authors_layout: write the authors' layout (else this codebase's).
        feature_grid: (h, w) feature grid, for the masks the authors' layout stores.
        window_size: the aggregator's window, likewise.

    Returns:
        The state dict written (keys as in the file).
    """
    state, partial = read_catseg_state(src)
    if partial:
        raise CheckpointError(f'{src} holds only the fine-tuned part of its CLIP; the authors\' '
                              'layout needs the whole CLIP')
    dst = Path(dst)
    if to_authors_layout:
        out = to_authors(state, feature_grid, window_size)
        torch.save({'model': out}, dst)
        return out
    out = {f'catseg.{k}': v.detach().contiguous().clone() for k, v in state.items()}
    if dst.suffix == '.safetensors':
        from safetensors.torch import save_file

        save_file(out, str(dst))
    else:
        torch.save({'state_dict': out, 'meta': {'converted_from': Path(src).name}}, dst)
    return out


def save_finetuned_weights(model: nn.Module, path: str | os.PathLike,
                           trainable_clip: list[str]) -> dict[str, object]:
    """Writes what training changed: the aggregator, the guidance convs and the trained CLIP
    tensors (e.g. the packed attention weights), as safetensors marked ``finetuned-only``.

    Args:
        model: a ``CATSegModel``.
        path: output ``.safetensors`` file (written to a temporary name, then moved).
        trainable_clip: names (in ``model.clip_model``) of the CLIP tensors that trained.

    Returns:
        ``{'file', 'bytes', 'sha256', 'tensors'}`` of the written file.
    """
    import hashlib

    state = model.state_dict()
    keep = {k: v for k, v in state.items() if not k.startswith('clip_model.')}
    keep.update({f'clip_model.{name}': state[f'clip_model.{name}'] for name in trainable_clip})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(keep, path, metadata={PARTIAL_CLIP[0]: PARTIAL_CLIP[1]})
    data = path.read_bytes()
    return {'file': path.name, 'bytes': len(data), 'sha256': hashlib.sha256(data).hexdigest(),
            'tensors': len(keep)}
