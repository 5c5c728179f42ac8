"""Named checkpoint converters the zoo runs once per downloaded file (``WEIGHT_CONVERTERS``).

A converter is ``convert(src: Path, **args) -> dict[str, Tensor]``: it reads an upstream file
(weights only) and returns the state dict dense_clip loads, optionally with a
``'__metadata__'`` entry of strings (the safetensors header's name for it) that goes into the
file's metadata. The zoo saves that dict as safetensors beside a record of the source's sha256
and reuses it until the source changes.
Converters of other packages register into ``dense_clip.registry.WEIGHT_CONVERTERS`` the same
way (add their module to its ``locations``). Each one also runs from the command line:
``tools/model_converters/clip_dinoiser.py``, ``openai_clip.py``, ``timm_vit.py``, ``catseg.py``,
``regionclip.py``.

* ``clip_dinoiser_heads``: CLIP-DINOiser's ``last.pt`` (wysoczanska/clip_dinoiser ``train.py``:
  ``{'epoch', 'model_state_dict': {obj_proj.*, bkg_decoder.*}}``) -> ``corr_head.conv.*`` and
  ``bkg_head.conv.*``, the keys of ``CLIPDINOiserSegmentor`` (so the file also serves as an
  mmengine ``load_from``).
* ``openai_clip``: an OpenAI CLIP TorchScript archive (openai/CLIP ``clip.py`` ``_MODELS``) ->
  its OpenAI-layout state dict, which ``load_clip`` reads with or without a model name, and
  the architecture the archive's modules state (heads, QuickGELU) in the metadata.
* ``timm_vit``: DINO (facebookresearch/dino ``hubconf.py``) or DINOv2 (facebookresearch/dinov2
  ``hub/backbones.py``) release files -> timm's ViT keys, through timm's own
  ``checkpoint_filter_fn`` (registers, layer scale, mask token); every key must fit the timm
  model named by ``timm_name``.
* ``catseg``: CAT-Seg's detectron2 checkpoints (KU-CVLAB/CAT-Seg ``model_base.pth`` /
  ``model_large.pth``) -> ``CATSegModel`` keys (``dense_clip.models.catseg.convert``), read by
  ``CATSegSegmentor(weights='zoo://...')``.
* ``regionclip``: RegionCLIP's pretrained detectron2 checkpoints (microsoft/RegionCLIP
  ``regionclip_pretrained-cc_*.pth``) -> an OpenAI-layout CLIP state dict
  (``dense_clip.models.region.regionclip_checkpoint``), loaded with ``model_name=None``.

The CLIPSelf and F-ViT entries name converters (``clipself``, ``fvit_mmdet2``) for EVA02-CLIP
files, which open_clip's CLIP classes do not build; they are not registered, and resolving those
entries says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dense_clip.registry import WEIGHT_CONVERTERS

__all__ = ['catseg', 'clip_dinoiser_heads', 'openai_clip', 'regionclip', 'timm_vit', 'read_any',
           'save_safetensors']


def read_any(src: Path) -> Any:
    """A .safetensors file, or a torch pickle loaded weights-only (mmengine classes allowed);
    unreadable files raise ``CheckpointError`` naming them."""
    from dense_clip.utils.checkpoint import load_checkpoint_file

    return load_checkpoint_file(src)


def save_safetensors(state: dict[str, Any], out: Path) -> None:
    """Writes a converter's output to ``out`` atomically; a ``'__metadata__'`` entry
    (str -> str) becomes the file's metadata."""
    from dense_clip.utils.checkpoint import write_safetensors

    write_safetensors({k: v for k, v in state.items() if k != '__metadata__'}, out,
                      metadata=state.get('__metadata__'))


@WEIGHT_CONVERTERS.register_module(name='clip_dinoiser_heads')
def clip_dinoiser_heads(src: Path) -> dict[str, Tensor]:
    """CLIP-DINOiser head checkpoint (authors' or dense_clip's layout) -> dense_clip keys.

    Returns:
        The four head tensors under the segmentor's keys (so ``load_from`` works as well as
        ``head.checkpoint``): ``head.corr_head.conv.weight`` (C, D, 3, 3),
        ``head.corr_head.conv.bias`` (C,), ``head.bkg_head.conv.weight`` (1, D, 1, 1),
        ``head.bkg_head.conv.bias`` (1,), float.
    """
    from dense_clip.models.dinoiser import heads_state_dict

    return {f'head.{k}': v for k, v in heads_state_dict(read_any(src)).items()}


@WEIGHT_CONVERTERS.register_module(name='openai_clip')
def openai_clip(src: Path) -> dict[str, Tensor]:
    """OpenAI CLIP file (TorchScript archive, state dict or safetensors) -> OpenAI-layout keys.

    Non-tensor entries are dropped. When the file states its whole architecture (a TorchScript
    archive's modules, or stored metadata), it goes into ``'__metadata__'``, so
    ``load_clip(None, path)`` builds exactly that model; otherwise the loader's guess applies.
    """
    from dense_clip.models.clip.architecture import architecture_metadata
    from dense_clip.models.clip.loading import infer_openai_config, read_clip_file

    file = read_clip_file(src)
    config = infer_openai_config(file.state_dict, file.facts)  # raises unless OpenAI layout
    out: dict[str, Any] = {k: v for k, v in file.state_dict.items() if isinstance(v, Tensor)}
    if file.config is not None:
        out['__metadata__'] = architecture_metadata(file.config)
    elif {'vision_heads', 'text_heads', 'quick_gelu'} <= set(file.facts):
        out['__metadata__'] = architecture_metadata(config)
    return out


@WEIGHT_CONVERTERS.register_module(name='timm_vit')
def timm_vit(src: Path, timm_name: str, arch: dict | None = None) -> dict[str, Tensor]:
    """DINO / DINOv2 release file -> the state dict of timm's ``timm_name`` (head dropped).

    Args:
        src: the release file (a state dict, or a dict holding one under model / teacher /
            state_dict).
        timm_name: timm model name with tag, e.g. ``'vit_base_patch8_224.dino'``.
        arch: overrides of timm's architecture (tests build tiny models).

    Raises:
        ValueError: the converted keys do not fit the timm model (missing / unexpected listed).
    """
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn

    state = read_any(src)
    for key in ('teacher', 'model', 'state_dict'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    state = {k.removeprefix('module.').removeprefix('backbone.'): v for k, v in state.items()}
    model = timm.create_model(timm_name, pretrained=False, num_classes=0, **(arch or {}))
    converted = checkpoint_filter_fn(state, model)
    converted = {k: v for k, v in converted.items() if not k.startswith('head.')}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    wrong = sorted(k for k in set(expected) & set(converted)
                   if tuple(expected[k].shape) != tuple(converted[k].shape))
    if missing or unexpected or wrong:
        raise ValueError(f'{src}: does not fit timm {timm_name}: missing {missing[:5]}, '
                         f'unexpected {unexpected[:5]}, shape mismatch {wrong[:5]}')
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in converted.items()}


@WEIGHT_CONVERTERS.register_module(name='catseg')
def catseg(src: Path) -> dict[str, Tensor]:
    """CAT-Seg checkpoint (the authors' detectron2 file, or ours) -> ``CATSegModel`` keys.

    Returns:
        Every tensor of the model (``clip_model.*``, ``aggregator.*``, ``guidance_upsample.*``);
        a file holding only the fine-tuned part of the CLIP is refused (it needs its CLIP).
    """
    from dense_clip.models.catseg.checkpoint import read_catseg_state

    state, partial = read_catseg_state(src)
    if partial:
        raise ValueError(f'{src}: holds only the fine-tuned part of a CLIP; the zoo converts '
                         'whole CAT-Seg checkpoints')
    return state


@WEIGHT_CONVERTERS.register_module(name='regionclip')
def regionclip(src: Path, head_counts: dict[str, int] | None = None) -> dict[str, Tensor]:
    """RegionCLIP pretrained checkpoint -> OpenAI-layout CLIP keys (architecture inferred).

    Args:
        src: ``regionclip_pretrained-cc_*.pth``.
        head_counts: ``vision_heads`` / ``text_heads`` stored with the weights, for towers whose
            widths are not 64 x their head counts (not needed for RN50 / RN50x4).

    Raises:
        ValueError: keys outside RegionCLIP's groups (named), or no text encoder (the fine-tuned
            detectors; convert those with ``tools/model_converters/regionclip.py --text-from``).
    """
    from dense_clip.models.clip import build_openai_model
    from dense_clip.models.region.regionclip_checkpoint import (
        convert_regionclip,
        read_regionclip_checkpoint,
    )

    converted, _ = convert_regionclip(read_regionclip_checkpoint(src), None, head_counts)
    build_openai_model(dict(converted), source=str(src))  # every tensor fits the architecture
    return dict(converted)
