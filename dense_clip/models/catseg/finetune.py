"""Which CLIP weights CAT-Seg fine-tunes: the attention query and value projections of both towers.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024,
section 3.4. In the authors' code (KU-CVLAB/CAT-Seg ``cat_seg/cat_seg_model.py``,
``CATSeg.__init__`` with ``CLIP_FINETUNE: attention``) every parameter of the CLIP is frozen
except, in the blocks of both the image and the text transformer, ``q_proj_weight`` and
``v_proj_weight`` (their vendored attention keeps q, k and v as separate weights). The packed
``in_proj_bias`` stays frozen, so do the output projections, the MLPs, the norms and the
embeddings (the rule that also unfreezes names containing "position" only matches names under
"transformer", and CLIP's positional embeddings are not named so; verified by running it).

open_clip packs q, k and v into one ``in_proj_weight`` (3C, C). Here that parameter trains and a
gradient hook zeroes the gradient of its k rows. With Adam(W), a zero gradient leaves the moments at
zero and the update at zero, so the k rows only move through weight decay: the configs give
``in_proj_weight`` no weight decay (``paramwise_cfg``), which makes them exactly constant (tested).
The authors decay q and v with 1e-4 at 0.01x the learning rate: ~2e-10 per step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ['FINETUNE_MODES', 'apply_finetune', 'qv_row_mask']


def qv_row_mask(weight: Tensor) -> Tensor:
    """(3C, 1) mask over a packed q/k/v weight: 1 on the q and v rows, 0 on the k rows."""
    rows = weight.shape[0]
    if rows % 3:
        raise ValueError(f'a packed in_proj_weight has 3C rows, got {rows}')
    mask = torch.ones(rows, 1, dtype=weight.dtype, device=weight.device)
    mask[rows // 3: 2 * rows // 3] = 0
    return mask


def _attention_modules(clip_model: nn.Module) -> list[tuple[str, nn.Module]]:
    found = [(name, m) for name, m in clip_model.named_modules()
             if isinstance(getattr(m, 'in_proj_weight', None), nn.Parameter)]
    if not found:
        raise ValueError("fine-tuning 'attention' needs transformer towers with packed "
                         'in_proj_weight (open_clip ViT CLIPs); none found')
    return found


def _mask_k_rows(param: nn.Parameter) -> None:
    if getattr(param, '_catseg_qv_hook', None) is not None:
        return

    def hook(grad: Tensor) -> Tensor:
        return grad * qv_row_mask(grad)

    param._catseg_qv_hook = param.register_hook(hook)


def _attention(clip_model: nn.Module) -> list[str]:
    clip_model.requires_grad_(False)
    names = []
    for name, module in _attention_modules(clip_model):
        module.in_proj_weight.requires_grad_(True)
        _mask_k_rows(module.in_proj_weight)
        names.append(f'{name}.in_proj_weight')
    return names


def _full(clip_model: nn.Module) -> list[str]:
    clip_model.requires_grad_(True)
    return [name for name, _ in clip_model.named_parameters()]


def _frozen(clip_model: nn.Module) -> list[str]:
    clip_model.requires_grad_(False)
    return []


#: The authors' ``CLIP_FINETUNE`` modes (their 'prompt' mode needs visual prompt tokens, which
#: the released models do not use).
FINETUNE_MODES: dict[str, Callable[[nn.Module], list[str]]] = {
    'attention': _attention,
    'full': _full,
    'none': _frozen,
}


def apply_finetune(clip_model: nn.Module, mode: str) -> list[str]:
    """Sets ``requires_grad`` on a CLIP for a fine-tuning mode.

    Args:
        clip_model: an open_clip CLIP (ViT towers).
        mode: 'attention' (q and v projections of every block of both towers), 'full' or
            'none'.

    Returns:
        Names of the parameters that train (for 'attention': every packed ``in_proj_weight``,
        whose k rows get a zero gradient).

    Raises:
        ValueError: unknown mode (the message lists the valid ones) or, for 'attention', a CLIP
            without packed attention weights.
    """
    if mode not in FINETUNE_MODES:
        raise ValueError(f'unknown finetune mode {mode!r}; valid: {sorted(FINETUNE_MODES)}')
    return FINETUNE_MODES[mode](clip_model)
