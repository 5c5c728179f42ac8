"""Tiny random-weight CLIP models and checkpoint writers, for tests and examples.

The models are real open_clip ``CLIP`` instances built from open_clip config dicts (the format of
open_clip's ``model_configs/*.json``), small enough that a forward pass takes milliseconds on a CPU.
The text tower keeps open_clip's tokenizer vocabulary (49408) and context length (77) because
open_clip's BPE tokenizer cannot be shrunk; it is made narrow (width 32, 1 layer) instead.

Writers save one model in each checkpoint format ``load_clip`` reads: an OpenAI-layout state dict,
a TorchScript archive (``torch.jit.script`` of the model itself, as OpenAI ships theirs), an
open_clip training checkpoint and safetensors. Like every file this codebase writes, the
safetensors file stores the architecture in its metadata; the OpenAI-layout pickles carry the
``vision_heads`` / ``text_heads`` head counts ``load_clip`` understands (their activation is
then assumed, with a warning), and TorchScript archives keep their modules.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.model import CLIP
from torch import nn

__all__ = [
    'tiny_vit_config',
    'tiny_resnet_config',
    'tiny_clip_vit',
    'tiny_clip_resnet',
    'build_from_config',
    'register_open_clip_config',
    'openai_state_dict',
    'save_openai_state_dict',
    'save_torchscript',
    'save_open_clip_checkpoint',
    'save_safetensors',
]

_TINY_TEXT = dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1)


def tiny_vit_config(
    patch_size: int = 8,
    image_size: int = 32,
    width: int = 32,
    layers: int = 2,
    heads: int = 2,
    embed_dim: int = 32,
) -> dict[str, Any]:
    """open_clip model config of a tiny CLIP ViT (QuickGELU, like OpenAI's models)."""
    return dict(
        embed_dim=embed_dim,
        quick_gelu=True,
        vision_cfg=dict(
            layers=layers,
            width=width,
            head_width=width // heads,
            patch_size=patch_size,
            image_size=image_size,
        ),
        text_cfg=dict(_TINY_TEXT),
    )


def tiny_resnet_config(
    layers: tuple[int, int, int, int] = (1, 1, 1, 1),
    width: int = 8,
    image_size: int = 64,
    embed_dim: int = 32,
) -> dict[str, Any]:
    """open_clip model config of a tiny CLIP ModifiedResNet (C5 width = 32 x ``width``)."""
    return dict(
        embed_dim=embed_dim,
        quick_gelu=True,
        vision_cfg=dict(layers=list(layers), width=width, head_width=64, image_size=image_size),
        text_cfg=dict(_TINY_TEXT),
    )


def build_from_config(config: dict[str, Any], seed: int = 0) -> CLIP:
    """Builds a CLIP from an open_clip config dict with seeded, fully random weights (eval mode).

    open_clip initialises biases to 0, norms to 1 and some BatchNorm scales to 0; every parameter
    and BatchNorm statistic is perturbed here so tests see non-trivial values everywhere.
    """
    torch.manual_seed(seed)
    model = CLIP(**copy.deepcopy(config))
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def tiny_clip_vit(
    patch_size: int = 8,
    image_size: int = 32,
    width: int = 32,
    layers: int = 2,
    heads: int = 2,
    embed_dim: int = 32,
    seed: int = 0,
) -> CLIP:
    """A tiny random CLIP ViT: default grid 4x4 at 32 px, width 32, 2 blocks, 2 heads."""
    return build_from_config(
        tiny_vit_config(patch_size, image_size, width, layers, heads, embed_dim), seed
    )


def tiny_clip_resnet(
    layers: tuple[int, int, int, int] = (1, 1, 1, 1),
    width: int = 8,
    image_size: int = 64,
    embed_dim: int = 32,
    seed: int = 0,
) -> CLIP:
    """A tiny random CLIP ResNet: C5 256 channels (4 pool heads), 2x2 C5 grid at 64 px."""
    return build_from_config(tiny_resnet_config(layers, width, image_size, embed_dim), seed)


def register_open_clip_config(
    name: str, config: dict[str, Any], directory: str | os.PathLike
) -> Path:
    """Writes ``config`` as ``<directory>/<name>.json`` and registers it with open_clip.

    Afterwards ``open_clip.create_model(name)`` (and ``load_clip(name, ...)``) know the model.
    """
    path = Path(directory) / f'{name}.json'
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)
    return path


def _head_hints(model: CLIP) -> dict[str, torch.Tensor]:
    """The ``vision_heads`` / ``text_heads`` counts as 0-d tensors (none is left to a guess)."""
    visual = model.visual
    if hasattr(visual, 'transformer'):
        heads = visual.transformer.resblocks[0].attn.num_heads
    else:
        heads = visual.attnpool.num_heads
    return {'vision_heads': torch.tensor(heads),
            'text_heads': torch.tensor(model.transformer.resblocks[0].attn.num_heads)}


def openai_state_dict(model: CLIP) -> dict[str, torch.Tensor]:
    """The model's weights in OpenAI's key layout (open_clip ``CLIP`` already uses it), plus hints.

    Only ``CLIP`` with OpenAI's structure qualifies (no CustomTextCLIP, no timm/HF towers).
    """
    if not isinstance(model, CLIP):
        raise TypeError(f'expected an open_clip CLIP, got {type(model).__name__}')
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state.update(_head_hints(model))
    return state


def save_openai_state_dict(model: CLIP, path: str | os.PathLike) -> Path:
    """Saves an OpenAI-layout plain state dict with ``torch.save``."""
    torch.save(openai_state_dict(model), path)
    return Path(path)


def save_torchscript(model: CLIP, path: str | os.PathLike) -> Path:
    """Saves ``torch.jit.script(model)`` like OpenAI's .pt archives, head hints as buffers.

    The scripted copy's state dict also carries open_clip's text ``attn_mask`` buffer, as OpenAI's
    archives carry a few non-weight entries; ``load_clip`` drops both.
    """
    scripted = copy.deepcopy(model).eval()
    for key, value in _head_hints(model).items():
        scripted.register_buffer(key, value)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)  # torch.jit is deprecated upstream
        torch.jit.script(scripted).save(str(path))
    return Path(path)


def save_open_clip_checkpoint(
    model: nn.Module, path: str | os.PathLike, name: str = 'tiny'
) -> Path:
    """Saves an open_clip training checkpoint: dict(epoch, name, state_dict with 'module.')."""
    state = {f'module.{k}': v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(dict(epoch=1, name=name, state_dict=state), path)
    return Path(path)


def save_safetensors(model: nn.Module, path: str | os.PathLike, hints: bool = True,
                     architecture: bool = True) -> Path:
    """Saves the state dict as .safetensors (OpenAI layout for ``CLIP``).

    Args:
        model: the model.
        path: the file.
        hints: also store ``vision_heads`` / ``text_heads`` entries (``CLIP`` only).
        architecture: store the open_clip model config in the metadata (``CLIP`` only, as
            :func:`~dense_clip.models.clip.save_clip_safetensors` does); False writes a file
            like other tools would, with weights only.
    """
    from safetensors.torch import save_file

    from dense_clip.models.clip import save_clip_safetensors

    extra = _head_hints(model) if hints and isinstance(model, CLIP) else {}
    if architecture and isinstance(model, CLIP):
        return save_clip_safetensors(model, path, extra=extra)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file({**state, **extra}, str(path))
    return Path(path)
