"""Hooks of the detection side: writing CLIPSelf's tuned CLIP for other configs to load."""

from __future__ import annotations

import os
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from dense_clip.registry import DET_HOOKS

__all__ = ['CLIPSelfExportHook', 'export_clipself']


def export_clipself(model, path: str) -> str:
    """Saves ``model.export_state_dict()`` (a :class:`~dense_clip.det.models.CLIPSelf`) as a
    plain open_clip state dict with ``torch.save``, atomically; returns the path."""
    model = getattr(model, 'module', model)
    state = model.export_state_dict()
    tmp = f'{path}.tmp'
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


@DET_HOOKS.register_module()
class CLIPSelfExportHook(Hook):
    """After training (and at every checkpoint), writes the student-teacher ensemble of a
    CLIPSelf model to ``<work_dir>/<filename>``: the weights F-ViT configs load through
    ``clip=dict(..., pretrained=<that file>)``.

    Args:
        filename: name of the file in the work dir.
        every_checkpoint: also export whenever a checkpoint is saved.
    """

    priority = 'LOW'

    def __init__(self, filename: str = 'clipself_student.pt', every_checkpoint: bool = True
                 ) -> None:
        self.filename = filename
        self.every_checkpoint = every_checkpoint

    def _export(self, runner) -> None:
        path = export_clipself(runner.model, osp.join(runner.work_dir, self.filename))
        print_log(f'CLIPSelf weights written to {path}', logger='current')

    def after_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.every_checkpoint:
            self._export(runner)

    def after_train(self, runner) -> None:
        self._export(runner)
