"""Converting RegionCLIP's released checkpoints (detectron2 layout) to the OpenAI CLIP layout.

RegionCLIP (microsoft/RegionCLIP) ships ``regionclip_pretrained-cc_{rn50,rn50x4}.pth``: detectron2
checkpoints (``{"model": state_dict, ...}``) of its pretraining model ``PretrainFastRCNN``
(``detectron2/modeling/meta_arch/clip_rcnn.py``):

* ``backbone.*``: the region-aligned image encoder, CLIP's ``ModifiedResNet`` with frozen batch
  norms (``detectron2/modeling/backbone/clip_backbone.py``): the same module names as OpenAI's
  ``visual.*`` (conv1..3/bn1..3, layer1..4 with ``downsample.0/1``, ``attnpool.{q,k,v,c}_proj``,
  ``attnpool.positional_embedding``), but no ``num_batches_tracked``;
* ``lang_encoder.*``: CLIP's text encoder (``CLIPLangEncoder``: ``transformer.*``,
  ``token_embedding``, ``positional_embedding``, ``ln_final``, ``text_projection``; no
  ``logit_scale``), frozen during pretraining, i.e. OpenAI's text tower;
* ``teacher_backbone.*``: the frozen teacher (OpenAI's image encoder), and ``offline_backbone.*`` /
  ``offline_proposal_generator.*``: the RPN that proposed pretraining regions. Neither is part of
  the region model; they are dropped (and reported).

The output is an OpenAI-layout state dict (``visual.*`` + the text keys + ``logit_scale``) that
``CLIPSource(model_name=None, pretrained=<file>)`` loads with the architecture inferred from the
tensors. ``num_batches_tracked`` is added as 0 for every batch norm; ``logit_scale`` is ln(1 /
0.01) = ln 100 (RegionCLIP's ``CLSS_TEMP`` 0.01, also OpenAI's trained value) unless the file
has one. Any key outside these groups is an error that names it.
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ['DROPPED_PREFIXES', 'ConversionReport', 'convert_regionclip',
           'read_regionclip_checkpoint']

#: Groups of the authors' checkpoints that are not part of the CLIP, and why they are dropped.
DROPPED_PREFIXES: dict[str, str] = {
    'teacher_backbone.': 'the frozen teacher CLIP image encoder of pretraining',
    'teacher_roi_heads.': "the teacher's RoI head of pretraining",
    'offline_backbone.': 'the backbone of the RPN that proposed pretraining regions',
    'offline_proposal_generator.': 'the RPN that proposed pretraining regions',
    'roi_heads.': 'detection heads (box regression, classifier weights) of a fine-tuned detector',
    'pixel_mean': 'input normalisation buffer',
    'pixel_std': 'input normalisation buffer',
    'offline_pixel_mean': 'input normalisation buffer',
    'offline_pixel_std': 'input normalisation buffer',
}
_RENAMES = (('backbone.', 'visual.'), ('lang_encoder.', ''))
_TEXT_KEYS = re.compile(r'^(transformer\.|token_embedding\.|positional_embedding$|ln_final\.|'
                        r'text_projection$|logit_scale$)')
_BN = re.compile(r'^(visual\.(?:bn\d|layer\d+\.\d+\.(?:bn\d|downsample\.1)))\.running_var$')
_INDEX = re.compile(r'[.]\d+[.]')
_REQUIRED = ('visual.conv1.weight', 'visual.layer1.0.conv1.weight',
             'visual.attnpool.c_proj.weight', 'visual.attnpool.positional_embedding')


@dataclass
class ConversionReport:
    """What :func:`convert_regionclip` did with every key of the source.

    Attributes:
        renamed: number of source keys mapped into the output.
        dropped: prefix -> number of keys dropped under it.
        added: keys created (``num_batches_tracked``, ``logit_scale``, text from ``text_from``).
    """

    renamed: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)

    def summary(self) -> str:
        dropped = ', '.join(f'{p}* ({n})' for p, n in self.dropped.items()) or 'nothing'
        kinds = sorted({_INDEX.sub('.N.', k) for k in self.added})
        shown = ', '.join(kinds[:4]) + (', ...' if len(kinds) > 4 else '')
        return (f'{self.renamed} keys mapped; dropped {dropped}; added {len(self.added)} keys '
                f'({shown})')


def read_regionclip_checkpoint(path: str | os.PathLike) -> dict[str, Tensor]:
    """The state dict of a detectron2 checkpoint file (``{"model": ...}`` or a bare state dict),
    read weights-only, ``module.`` prefixes stripped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds something other than a state dict.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    obj = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(obj, dict) and isinstance(obj.get('model'), dict):
        obj = obj['model']
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f'{path}: expected a detectron2 checkpoint ({{"model": state_dict}}) '
                         'or a state dict of tensors')
    return {k.removeprefix('module.'): v for k, v in obj.items()}


def convert_regionclip(state_dict: dict[str, Tensor],
                       text_from: dict[str, Tensor] | None = None,
                       head_counts: dict[str, int] | None = None
                       ) -> tuple[OrderedDict[str, Tensor], ConversionReport]:
    """Maps a RegionCLIP detectron2 state dict onto OpenAI's CLIP layout.

    Args:
        state_dict: the checkpoint's ``model`` entry (see :func:`read_regionclip_checkpoint`).
        text_from: an OpenAI-layout CLIP state dict whose text tower is used when the
            checkpoint has no ``lang_encoder.*`` (e.g. a fine-tuned detector checkpoint).
        head_counts: ``vision_heads`` / ``text_heads`` hints stored with the weights, for towers
            whose widths are not 64 x their head counts (the released RN50 and RN50x4 follow
            that rule: 32 / 8 and 40 / 10 heads; tiny test models do not).

    Returns:
        (OpenAI-layout state dict, report of what was mapped, dropped and added).

    Raises:
        ValueError: keys outside the known groups (named), a missing image or text tower.
    """
    report = ConversionReport()
    out: OrderedDict[str, Tensor] = OrderedDict()
    unknown = []
    for key, value in state_dict.items():
        dropped = next((p for p in DROPPED_PREFIXES if key == p or key.startswith(p)), None)
        if dropped is not None:
            report.dropped[dropped] = report.dropped.get(dropped, 0) + 1
            continue
        rename = next(((src, dst) for src, dst in _RENAMES if key.startswith(src)), None)
        if rename is None:
            unknown.append(key)
            continue
        target = rename[1] + key[len(rename[0]):]
        if rename[0] == 'lang_encoder.' and not _TEXT_KEYS.match(target):
            unknown.append(key)
            continue
        out[target] = value
        report.renamed += 1
    if unknown:
        shown = ', '.join(unknown[:8]) + (f' (+{len(unknown) - 8} more)' if len(unknown) > 8
                                          else '')
        raise ValueError(f'unknown keys in the RegionCLIP checkpoint: {shown}; expected '
                         f'backbone.*, lang_encoder.* and {sorted(DROPPED_PREFIXES)}')
    missing = [k for k in _REQUIRED if k not in out]
    if missing:
        raise ValueError(f'not a RegionCLIP ResNet checkpoint: no {missing} (from backbone.*)')
    if not any(k.startswith('transformer.') for k in out):
        if text_from is None:
            raise ValueError('the checkpoint has no text encoder (lang_encoder.*): pass the '
                             'OpenAI CLIP of the same size as text_from (--text-from)')
        for key, value in text_from.items():
            if _TEXT_KEYS.match(key):
                out[key] = value
                report.added.append(key)
    for key in list(out):
        match = _BN.match(key)
        if match and f'{match.group(1)}.num_batches_tracked' not in out:
            name = f'{match.group(1)}.num_batches_tracked'
            out[name] = torch.tensor(0, dtype=torch.long)
            report.added.append(name)
    if 'logit_scale' not in out:
        out['logit_scale'] = torch.tensor(math.log(1 / 0.01))
        report.added.append('logit_scale')
    for key, count in (head_counts or {}).items():
        if key not in ('vision_heads', 'text_heads'):
            raise ValueError(f"head_counts keys are 'vision_heads' and 'text_heads', got {key!r}")
        out[key] = torch.tensor(int(count))
        report.added.append(key)
    return out, report
