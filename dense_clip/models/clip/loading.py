"""Loading CLIP models and tokenizers from open_clip names, OpenAI checkpoints and local files.

Weight sources accepted by ``load_clip``:

(a) open_clip names and pretrained tags, including ``hf-hub:org/repo`` ids: delegated to
    ``open_clip.create_model`` / ``open_clip.get_tokenizer``, which download and cache the usual
    way (``cache_dir``).
(b) an OpenAI checkpoint file, TorchScript archive or plain state dict: the architecture is
    inferred from the state dict the way OpenAI's ``clip.model.build_model`` does, so any
    OpenAI-layout checkpoint (RN50 ... ViT-L/14@336, or a tiny custom one) loads with
    ``model_name=None``. TorchScript archives are opened with ``torch.jit.load`` on the CPU only to
    read their state dict; nothing else in them is used.
(c) a local open_clip checkpoint (.pt/.pth/.bin, a dict with 'state_dict' or a plain state dict,
    'module.' prefixes stripped) for a named model.
(d) a .safetensors file, for a named model or with an OpenAI-layout state dict.
(e) a model-zoo name ``zoo://NAME`` (``dense_clip.zoo``): the verified (and converted) file of
    that entry; the entry's ``Open CLIP`` architecture is used when ``model_name`` is None, a
    different ``model_name`` is an error, and QuickGELU is forced when the entry says so.

Every pickle is read with ``torch.load(..., map_location='cpu', weights_only=True)``.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.model import CLIP, convert_to_custom_text_state_dict, set_model_preprocess_cfg
from open_clip.tokenizer import SimpleTokenizer
from torch import Tensor, nn

PRECISIONS = ('fp32', 'bf16')
CHECKPOINT_SUFFIXES = ('.pt', '.pth', '.bin', '.ckpt', '.safetensors')
#: Non-weight entries an OpenAI-layout state dict may carry. OpenAI's TorchScript archives hold the
#: first three; ``vision_heads`` / ``text_heads`` (ints or 0-d tensors) are this project's optional
#: hints for custom checkpoints whose head width is not 64 (OpenAI's loader assumes width // 64).
ARCH_KEYS = ('input_resolution', 'context_length', 'vocab_size', 'vision_heads', 'text_heads')
_SCHEMAS = ('hf-hub:', 'local-dir:')


def load_clip(
    model_name: str | None = None,
    pretrained: str | None = None,
    *,
    cache_dir: str | None = None,
    device: str | torch.device = 'cpu',
    precision: str = 'fp32',
) -> tuple[nn.Module, Callable]:
    """Loads a CLIP model (eval mode) and its tokenizer.

    Args:
        model_name: open_clip architecture name ('ViT-B-16', 'RN50-quickgelu', ...) or an
            ``hf-hub:org/repo`` id; None to infer the architecture from an OpenAI-layout
            checkpoint file given as ``pretrained``.
        pretrained: an open_clip pretrained tag ('openai', 'laion2b_s34b_b88k', ...), an
            ``hf-hub:`` id (with ``model_name=None``), a path to a checkpoint file
            (.pt/.pth/.bin/.ckpt pickle or TorchScript archive, or .safetensors), or a model-zoo
            name ``zoo://NAME`` (downloaded and checked on first use).
        cache_dir: download cache for (a); open_clip's default when None.
        device: where to put the model; never chosen for you.
        precision: 'fp32' (exact) or 'bf16' (weights cast with ``.to(torch.bfloat16)``; no
            autocast, which is much slower on CPU).

    Returns:
        (model, tokenizer): an open_clip ``CLIP``-like module and a callable mapping a list of
        strings to (N, context_length) int64 token ids.

    Raises:
        FileNotFoundError: ``pretrained`` looks like a file path but does not exist.
        ValueError: unknown model name (valid choices listed), unknown precision, a checkpoint
            that does not fit the model (file and first mismatching keys named), or a checkpoint
            whose architecture cannot be inferred.

    Notes:
        With an open_clip tag whose weights were trained with QuickGELU (e.g. 'openai') on a
        config without it (e.g. 'ViT-B-16'), QuickGELU is forced, as OpenAI's weights need it.
        A local file loaded into a named model uses that config as it is: name the
        '-quickgelu' variant for OpenAI weights. Inferred OpenAI architectures use QuickGELU.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if pretrained is not None and str(pretrained).startswith(ZOO_SCHEME):
        model_name, quick_gelu = zoo_clip_spec(model_name, str(pretrained))
        from dense_clip.zoo import resolve

        path = resolve(str(pretrained))
        state_dict = read_state_dict(path)
        source = f'{pretrained} ({path})'
        if model_name is None:
            model = build_openai_model(state_dict, source=source)
            tokenizer = SimpleTokenizer(context_length=model.context_length)
        else:
            check_model_name(model_name)
            model = open_clip.create_model(model_name, pretrained=None, device='cpu',
                                           force_quick_gelu=quick_gelu)
            load_checked(model, state_dict, source=source, model_name=model_name)
            tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
    elif pretrained is not None and looks_like_file(pretrained):
        state_dict = read_state_dict(pretrained)
        if model_name is None:
            model = build_openai_model(state_dict, source=str(pretrained))
            tokenizer = SimpleTokenizer(context_length=model.context_length)
        else:
            check_model_name(model_name)
            model = open_clip.create_model(model_name, pretrained=None, device='cpu')
            load_checked(model, state_dict, source=str(pretrained), model_name=model_name)
            tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
    else:
        if model_name is None:
            if pretrained is None or not pretrained.startswith(_SCHEMAS):
                raise ValueError(
                    'load_clip needs model_name, unless pretrained is a checkpoint '
                    f'file or an hf-hub: id; got pretrained={pretrained!r}'
                )
            model_name, pretrained = pretrained, None
        check_model_name(model_name)
        kwargs: dict[str, Any] = {}
        if pretrained is not None and tag_needs_quick_gelu(model_name, pretrained):
            kwargs['force_quick_gelu'] = True
        model = open_clip.create_model(
            model_name, pretrained=pretrained, cache_dir=cache_dir, device='cpu', **kwargs
        )
        tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
    model = model.eval().to(device)
    if precision == 'bf16':
        model = model.to(torch.bfloat16)
    return model, tokenizer


# ----------------------------------------------------------------------------------------------
# Model-zoo names
# ----------------------------------------------------------------------------------------------
ZOO_SCHEME = 'zoo://'


def zoo_clip_spec(model_name: str | None, pretrained: str) -> tuple[str | None, bool]:
    """The open_clip model to build for the zoo CLIP ``pretrained``, and whether QuickGELU must
    be forced. Reads the zoo index only (no download).

    Args:
        model_name: the requested architecture, or None for the entry's own (``Open CLIP``).
        pretrained: ``zoo://NAME`` of a CLIP weight entry.

    Returns:
        (model name, or None to infer the architecture from an OpenAI-layout file; force QuickGELU).

    Raises:
        ValueError: ``model_name`` is another architecture than the entry's weights.
        dense_clip.zoo.ZooError: unknown zoo name.
    """
    from dense_clip.zoo import load_index

    entry = load_index().weight(pretrained)
    arch = entry.open_clip_arch
    if model_name is not None and arch is not None:
        def base(name: str) -> str:
            return name.replace('/', '-').removesuffix('-quickgelu')

        if base(model_name) != base(arch):
            raise ValueError(f'{pretrained} holds {entry.open_clip} weights, which do not fit '
                             f'model_name {model_name!r}; use {arch!r} or model_name=None')
    name = model_name or arch
    if name is None:
        return None, False
    config = open_clip.get_model_config(name.replace('/', '-')) or {}
    return name, entry.quick_gelu and not config.get('quick_gelu', False)


# ----------------------------------------------------------------------------------------------
# Reading files
# ----------------------------------------------------------------------------------------------
def looks_like_file(pretrained: str | os.PathLike) -> bool:
    """True when ``pretrained`` names a checkpoint file rather than an open_clip tag."""
    text = os.fspath(pretrained)
    if text.startswith((*_SCHEMAS, ZOO_SCHEME)):
        return False
    return (
        os.path.exists(text)
        or text.lower().endswith(CHECKPOINT_SUFFIXES)
        or os.sep in text
        or '/' in text
    )


def _is_torchscript_archive(path: Path) -> bool:
    """TorchScript zips hold a code/ folder and constants.pkl; torch.save zips do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(
            '/code/' in name or name.endswith('constants.pkl') for name in archive.namelist()
        )


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Reads a flat state dict from a checkpoint file, whatever its container.

    Args:
        path: a TorchScript archive, a torch pickle (a state dict, or a dict holding one under
            'state_dict'), or a .safetensors file.

    Returns:
        key -> tensor on the CPU, 'module.' prefixes stripped; ints under ``ARCH_KEYS`` become
        0-d tensors.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds something other than a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file

        obj: Any = load_file(str(path), device='cpu')
    elif _is_torchscript_archive(path):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)  # torch.jit is deprecated upstream
            obj = dict(torch.jit.load(str(path), map_location='cpu').state_dict())
    else:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict):
        obj = obj['state_dict']
    if not isinstance(obj, dict):
        raise ValueError(f'{path}: expected a state dict, got {type(obj).__name__}')
    state_dict: dict[str, Tensor] = {}
    for key, value in obj.items():
        key = key[len('module.') :] if key.startswith('module.') else key
        if isinstance(value, int) and key in ARCH_KEYS:
            value = torch.tensor(value)
        if not isinstance(value, Tensor):
            raise ValueError(f'{path}: entry {key!r} is a {type(value).__name__}, not a tensor')
        state_dict[key] = value
    return state_dict


# ----------------------------------------------------------------------------------------------
# OpenAI layout: infer the architecture, build, load
# ----------------------------------------------------------------------------------------------
def _count_blocks(state_dict: dict[str, Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    return len({m.group(1) for k in state_dict if (m := pattern.match(k))})


def _heads(state_dict: dict[str, Tensor], key: str, width: int, what: str) -> int:
    if key in state_dict:
        return int(state_dict[key])
    if width % 64:
        raise ValueError(
            f'cannot infer the {what} head count: width {width} is not a multiple of '
            f"OpenAI's head width 64; store the count under {key!r} in the checkpoint"
        )
    return width // 64


def _square_grid(n_tokens: int, key: str) -> int:
    grid = math.isqrt(n_tokens - 1)
    if grid * grid + 1 != n_tokens:
        raise ValueError(f'{key} has {n_tokens} rows, not 1 + a square grid')
    return grid


def infer_openai_config(state_dict: dict[str, Tensor]) -> dict[str, Any]:
    """Infers an open_clip model config from an OpenAI-layout state dict.

    Follows OpenAI's ``build_model``: ViT width / patch size from ``visual.conv1.weight``, depth
    from the resblocks count, image size from patch size x the positional-embedding grid;
    ResNet stage depths from ``visual.layer{1..4}.*`` keys, width from
    ``visual.layer1.0.conv1.weight``, image size 32 x the attention-pool grid; ``embed_dim`` from
    ``text_projection``; context length, vocabulary, text width and depth from the text keys;
    head counts = width // 64 (x32 for the ResNet pool) unless ``vision_heads`` / ``text_heads``
    are stored. The MLP ratio is read from ``c_fc`` (4 for every OpenAI model).

    Args:
        state_dict: OpenAI-layout keys ('visual.*', 'transformer.*', 'token_embedding.weight',
            'positional_embedding', 'ln_final.*', 'text_projection', 'logit_scale').

    Returns:
        dict(embed_dim=..., quick_gelu=True, vision_cfg=dict(...), text_cfg=dict(...)), the
        format of open_clip's model config JSON files.

    Raises:
        ValueError: not an OpenAI-layout CLIP state dict, or heads not inferable.
    """
    sd = state_dict
    try:
        if 'visual.proj' in sd:
            width, _, patch, _ = sd['visual.conv1.weight'].shape
            grid = _square_grid(
                sd['visual.positional_embedding'].shape[0], 'visual.positional_embedding'
            )
            heads = _heads(sd, 'vision_heads', width, 'vision')
            vision_cfg = dict(
                layers=_count_blocks(sd, 'visual.transformer.resblocks.'),
                width=width,
                head_width=width // heads,
                patch_size=patch,
                image_size=patch * grid,
                mlp_ratio=sd['visual.transformer.resblocks.0.mlp.c_fc.weight'].shape[0] / width,
            )
        elif 'visual.layer1.0.conv1.weight' in sd:
            width = sd['visual.layer1.0.conv1.weight'].shape[0]
            grid = _square_grid(
                sd['visual.attnpool.positional_embedding'].shape[0],
                'visual.attnpool.positional_embedding',
            )
            heads = _heads(sd, 'vision_heads', width * 32, 'vision')
            vision_cfg = dict(
                layers=[_count_blocks(sd, f'visual.layer{i}.') for i in range(1, 5)],
                width=width,
                head_width=width * 32 // heads,
                image_size=grid * 32,
            )
        else:
            raise ValueError('no visual.proj (ViT) or visual.layer1.* (ResNet) keys')
        text_width = sd['ln_final.weight'].shape[0]
        text_cfg = dict(
            context_length=sd['positional_embedding'].shape[0],
            vocab_size=sd['token_embedding.weight'].shape[0],
            width=text_width,
            heads=_heads(sd, 'text_heads', text_width, 'text'),
            layers=_count_blocks(sd, 'transformer.resblocks.'),
            mlp_ratio=sd['transformer.resblocks.0.mlp.c_fc.weight'].shape[0] / text_width,
        )
        embed_dim = sd['text_projection'].shape[1]
    except KeyError as err:
        raise ValueError(f'not an OpenAI-layout CLIP state dict: missing {err}') from None
    return dict(embed_dim=embed_dim, quick_gelu=True, vision_cfg=vision_cfg, text_cfg=text_cfg)


def build_openai_model(state_dict: dict[str, Tensor], source: str = '<state dict>') -> CLIP:
    """Builds an open_clip ``CLIP`` from an OpenAI-layout state dict and loads it (fp32).

    Args:
        state_dict: see ``infer_openai_config``; fp16 weights are cast to fp32.
        source: name used in error messages (the file path).

    Returns:
        The model in eval mode with OpenAI's image mean/std set as its preprocess config.
    """
    try:
        config = infer_openai_config(state_dict)
    except ValueError as err:
        raise ValueError(f'{source}: {err}; pass model_name for non-OpenAI layouts') from None
    model = CLIP(**config)
    load_checked(model, state_dict, source=source, model_name='<inferred OpenAI architecture>')
    set_model_preprocess_cfg(
        model,
        dict(
            size=model.visual.image_size,
            mode='RGB',
            mean=OPENAI_DATASET_MEAN,
            std=OPENAI_DATASET_STD,
            interpolation='bicubic',
            resize_mode='shortest',
            fill_color=0,
        ),
    )
    return model.eval()


def _listing(items: list[str], limit: int = 5) -> str:
    more = f' (+{len(items) - limit} more)' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def load_checked(
    model: nn.Module, state_dict: dict[str, Tensor], source: str, model_name: str = ''
) -> None:
    """Loads ``state_dict`` into ``model`` strictly, with errors that name the file and keys.

    Args:
        model: the target model.
        state_dict: weights; ``ARCH_KEYS`` entries and the model's non-persistent buffers are
            ignored; an old-layout text tower is converted for open_clip ``CustomTextCLIP``
            models; scalar/1-d ``logit_scale`` / ``logit_bias`` are reshaped to the model's.
        source: checkpoint path for messages.
        model_name: model name for messages.

    Raises:
        ValueError: shape mismatches (first keys with both shapes), missing or unexpected keys.
    """
    target = model.state_dict()
    # Non-persistent buffers (open_clip's text attn_mask) show up in scripted archives' state dicts.
    skip = set(ARCH_KEYS) | {name for name, _ in model.named_buffers() if name not in target}
    sd = {k: v for k, v in state_dict.items() if k not in skip}
    if 'positional_embedding' in sd and not hasattr(model, 'positional_embedding'):
        sd = convert_to_custom_text_state_dict(sd)
    for key in ('logit_scale', 'logit_bias'):
        if key in sd and key in target and sd[key].numel() == target[key].numel():
            sd[key] = sd[key].reshape(target[key].shape)
    name = f' {model_name}' if model_name else ''
    mismatched = [
        f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(v.shape)}'
        for k, v in target.items()
        if k in sd and sd[k].shape != v.shape
    ]
    if mismatched:
        raise ValueError(
            f'{source}: checkpoint shapes do not match model{name}: {_listing(mismatched, 3)}'
        )
    missing = [k for k in target if k not in sd]
    unexpected = [k for k in sd if k not in target]
    if missing or unexpected:
        raise ValueError(
            f'{source}: checkpoint keys do not match model{name}: '
            f'missing [{_listing(missing)}], unexpected [{_listing(unexpected)}]'
        )
    model.load_state_dict(sd, strict=True)


# ----------------------------------------------------------------------------------------------
# open_clip names and tags
# ----------------------------------------------------------------------------------------------
def check_model_name(model_name: str) -> None:
    """Raises a ValueError listing close matches when open_clip does not know ``model_name``."""
    if model_name.startswith(_SCHEMAS):
        return
    models = open_clip.list_models()
    if model_name.replace('/', '-') not in models:
        close = difflib.get_close_matches(model_name, models, n=5) or models[:5]
        raise ValueError(
            f'unknown open_clip model {model_name!r}; did you mean one of {close}? '
            f'({len(models)} models in open_clip.list_models())'
        )


def tag_needs_quick_gelu(model_name: str, tag: str) -> bool:
    """True when open_clip's weights ``tag`` were trained with QuickGELU but the architecture
    ``model_name`` does not declare it (e.g. 'ViT-B-16' with 'openai')."""
    name = model_name.replace('/', '-')
    tag_cfg = open_clip.get_pretrained_cfg(name, tag)
    model_cfg = open_clip.get_model_config(name) or {}
    return bool(tag_cfg.get('quick_gelu', False)) and not model_cfg.get('quick_gelu', False)
