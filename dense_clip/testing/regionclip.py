"""RegionCLIP checkpoints in the authors' detectron2 layout, written from tiny CLIP ResNets.

The layout of ``regionclip_pretrained-cc_*.pth`` (microsoft/RegionCLIP, ``PretrainFastRCNN``):
``{"model": state_dict, "iteration": n}`` where the state dict holds ``backbone.*`` (the student
``ModifiedResNet``; frozen batch norms: weight, bias, running_mean, running_var, no
``num_batches_tracked``), ``lang_encoder.*`` (``CLIPLangEncoder``: no ``logit_scale``, no
attention-mask buffer), ``teacher_backbone.*`` (same layout as ``backbone``) and the pretraining
RPN (``offline_backbone.*``: a ResNet-FPN, ``offline_proposal_generator.rpn_head.*``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ['regionclip_state_dict', 'save_regionclip_checkpoint']

# A few tensors of detectron2's ResNet-50-FPN RPN, by name (the real ones are large).
_OFFLINE = {
    'offline_backbone.bottom_up.stem.conv1.weight': (8, 3, 7, 7),
    'offline_backbone.bottom_up.stem.conv1.norm.weight': (8,),
    'offline_backbone.bottom_up.res2.0.conv1.weight': (8, 8, 1, 1),
    'offline_backbone.fpn_lateral2.weight': (8, 8, 1, 1),
    'offline_backbone.fpn_output2.weight': (8, 8, 3, 3),
    'offline_proposal_generator.rpn_head.conv.weight': (8, 8, 3, 3),
    'offline_proposal_generator.rpn_head.objectness_logits.weight': (3, 8, 1, 1),
    'offline_proposal_generator.rpn_head.anchor_deltas.weight': (12, 8, 1, 1),
}


def _visual(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.visual.state_dict().items()
            if not k.endswith('num_batches_tracked')}


def regionclip_state_dict(student: nn.Module, teacher: nn.Module | None = None,
                          text: bool = True, offline: bool = True, seed: int = 0
                          ) -> dict[str, Tensor]:
    """The state dict of RegionCLIP's pretraining model for an open_clip CLIP ResNet.

    Args:
        student: the region-aligned CLIP (its ``visual`` becomes ``backbone.*``, its text tower
            ``lang_encoder.*``).
        teacher: the teacher CLIP (``teacher_backbone.*``); default: the student's image tower.
        text: include ``lang_encoder.*``.
        offline: include a few pretraining-RPN tensors (``offline_*``).
        seed: seed of the RPN tensors.
    """
    state = {f'backbone.{k}': v for k, v in _visual(student).items()}
    if text:
        for key, value in student.state_dict().items():
            if key.startswith('visual.') or key in ('logit_scale', 'attn_mask'):
                continue
            state[f'lang_encoder.{key}'] = value.detach().clone()
    state.update({f'teacher_backbone.{k}': v for k, v in _visual(teacher or student).items()})
    if offline:
        generator = torch.Generator().manual_seed(seed)
        state.update({k: torch.randn(shape, generator=generator) for k, shape in _OFFLINE.items()})
    return state


def save_regionclip_checkpoint(student: nn.Module, path: str | os.PathLike, **kwargs) -> Path:
    """Writes ``{"model": regionclip_state_dict(student, **kwargs), "iteration": 600000}``."""
    torch.save({'model': regionclip_state_dict(student, **kwargs), 'iteration': 600000}, path)
    return Path(path)
