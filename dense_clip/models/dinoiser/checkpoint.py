"""Key mapping between CLIP-DINOiser's released head checkpoint and dense_clip.

The authors save ``{'epoch': int, 'model_state_dict': {...}}`` with exactly four tensors
(wysoczanska/clip_dinoiser ``train.py`` ``get_model_dict``): ``obj_proj.weight`` (256, 768, 3, 3),
``obj_proj.bias`` (256,), ``bkg_decoder.weight`` (1, 768, 1, 1), ``bkg_decoder.bias`` (1,).
``DINOiserHead`` holds them as ``corr_head.conv.*`` and ``bkg_head.conv.*`` (``head.corr_head...``
in a whole segmentor's state dict).
"""

from __future__ import annotations

from torch import Tensor

__all__ = ['AUTHORS_TO_OURS', 'to_dense_clip', 'to_authors', 'heads_state_dict']

AUTHORS_TO_OURS = {
    'obj_proj.weight': 'corr_head.conv.weight',
    'obj_proj.bias': 'corr_head.conv.bias',
    'bkg_decoder.weight': 'bkg_head.conv.weight',
    'bkg_decoder.bias': 'bkg_head.conv.bias',
}
_OURS_TO_AUTHORS = {v: k for k, v in AUTHORS_TO_OURS.items()}


def _unwrap(checkpoint: dict) -> dict[str, Tensor]:
    for key in ('model_state_dict', 'state_dict'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    # A whole segmentor's state dict holds the heads under its ``head.`` module.
    if not any(k in checkpoint for k in _OURS_TO_AUTHORS) and any(
            f'head.{k}' in checkpoint for k in _OURS_TO_AUTHORS):
        return {k.removeprefix('head.'): v for k, v in checkpoint.items()
                if k.removeprefix('head.') in _OURS_TO_AUTHORS}
    return checkpoint


def heads_state_dict(checkpoint: dict) -> dict[str, Tensor]:
    """The head tensors of any supported checkpoint, in dense_clip's keys.

    Accepts the authors' layout (wrapped in ``model_state_dict`` or bare) or ours (bare, or an
    mmengine checkpoint with ``state_dict``, possibly holding the whole segmentor).

    Raises:
        KeyError: a head tensor is missing; the message names the expected keys.
    """
    state = _unwrap(checkpoint)
    if any(k in state for k in AUTHORS_TO_OURS):
        return to_dense_clip(state)
    missing = [k for k in _OURS_TO_AUTHORS if k not in state]
    if missing:
        raise KeyError(f'no CLIP-DINOiser heads: missing {missing}; expected the authors\' keys '
                       f'{sorted(AUTHORS_TO_OURS)} or ours {sorted(_OURS_TO_AUTHORS)}')
    return {k: state[k] for k in _OURS_TO_AUTHORS}


def to_dense_clip(checkpoint: dict) -> dict[str, Tensor]:
    """Authors' keys -> ours (exactly the four tensors; anything else is an error)."""
    state = _unwrap(checkpoint)
    unknown = sorted(set(state) - set(AUTHORS_TO_OURS))
    missing = sorted(set(AUTHORS_TO_OURS) - set(state))
    if unknown or missing:
        raise KeyError(f'not a CLIP-DINOiser head checkpoint: unknown {unknown}, missing {missing}')
    return {AUTHORS_TO_OURS[k]: v for k, v in state.items()}


def to_authors(state: dict, epoch: int = 0) -> dict:
    """Our keys (bare or in ``state_dict``) -> the authors' ``{'epoch', 'model_state_dict'}``."""
    state = _unwrap(state)
    missing = [k for k in _OURS_TO_AUTHORS if k not in state]
    if missing:
        raise KeyError(f'missing head tensors {missing}')
    return {'epoch': epoch,
            'model_state_dict': {_OURS_TO_AUTHORS[k]: state[k] for k in _OURS_TO_AUTHORS}}
