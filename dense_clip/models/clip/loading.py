"""Loading CLIP models and tokenizers from open_clip names, OpenAI checkpoints and local files.

Weight sources accepted by ``load_clip``:

(a) open_clip names and pretrained tags, including ``hf-hub:org/repo`` ids: delegated to
    ``open_clip.create_model`` / ``open_clip.get_tokenizer``, which download and cache the usual
    way (``cache_dir``).
(b) an OpenAI-layout file (TorchScript archive, plain state dict, safetensors) with
    ``model_name=None``: the architecture the file stores (safetensors metadata, written by
    this codebase), or what a TorchScript archive's modules say (heads, activation, pooling),
    or else a guess the way OpenAI's ``clip.model.build_model`` makes it, which warns about
    what it assumed or refuses when the sizes are no OpenAI release's
    (``dense_clip.models.clip.architecture``). TorchScript archives are opened with
    ``torch.jit.load`` on the CPU only to read their state dict and module attributes; their
    code is never run.
(c) a local open_clip checkpoint (.pt/.pth/.bin, a dict with 'state_dict' or a plain state dict,
    'module.' prefixes stripped) for a named model.
(d) a .safetensors file, for a named model or with an OpenAI-layout state dict. A named
    model must agree with what the file states about heads and activation (an error otherwise).
(e) a model-zoo name ``zoo://NAME`` (``dense_clip.zoo``): the verified (and converted) file of
    that entry; the entry's ``Open CLIP`` architecture is used when ``model_name`` is None, a
    different ``model_name`` is an error, and QuickGELU is forced when the entry says so.

Every pickle is read with ``torch.load(..., map_location='cpu', weights_only=True)``; unreadable,
truncated or refused files are one-line errors naming the file
(``dense_clip.utils.checkpoint.CheckpointError``).
"""

from __future__ import annotations

import difflib
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.model import convert_to_custom_text_state_dict, set_model_preprocess_cfg
from open_clip.tokenizer import SimpleTokenizer
from torch import Tensor, nn

from dense_clip.utils.checkpoint import CheckpointError, read_safetensors, safe_torch_load

from .architecture import (
    build_clip,
    check_architecture,
    config_facts,
    guess_architecture,
    infer_openai_config,
    module_facts,
    stored_architecture,
)
from .embedded import SPARSE_TOKEN_KEYS, expand_token_table

__all__ = ['ARCH_KEYS', 'CLIPFile', 'build_openai_model', 'check_model_name',
           'infer_openai_config', 'load_checked', 'load_clip', 'looks_like_file',
           'read_clip_file', 'read_state_dict', 'tag_needs_quick_gelu', 'zoo_clip_spec']

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
        A local file loaded into a named model uses that config, and a file that states another
        head count or activation is refused: name the '-quickgelu' variant for OpenAI weights.
        Without a name, a file's stored architecture is used, else it is read off or guessed
        (see the module docstring).
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if pretrained is not None and str(pretrained).startswith(ZOO_SCHEME):
        model_name, quick_gelu = zoo_clip_spec(model_name, str(pretrained))
        from dense_clip.zoo import resolve

        path = resolve(str(pretrained))
        model, tokenizer = _from_file(read_clip_file(path), f'{pretrained} ({path})',
                                      model_name, cache_dir, force_quick_gelu=quick_gelu)
    elif pretrained is not None and looks_like_file(pretrained):
        model, tokenizer = _from_file(read_clip_file(pretrained), str(pretrained), model_name,
                                      cache_dir)
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


class CLIPFile(NamedTuple):
    """What :func:`read_clip_file` reads from one weights file.

    Attributes:
        state_dict: key -> tensor on the CPU ('module.' prefixes stripped; a sparse token table
            already expanded).
        config: the open_clip model config stored in the file's metadata, or None.
        facts: heads / activation / pooling read off a TorchScript archive's modules, plus
            ``vision_heads`` / ``text_heads`` entries (see ``module_facts``).
    """

    state_dict: dict[str, Tensor]
    config: dict[str, Any] | None
    facts: dict[str, Any]

    def stated_facts(self) -> dict[str, Any]:
        """Heads / activation / pooling the file states (from its stored config if any)."""
        return config_facts(self.config) if self.config is not None else self.facts


def read_clip_file(path: str | os.PathLike) -> CLIPFile:
    """Reads a CLIP weights file, whatever its container, with what it says of its architecture.

    Args:
        path: a TorchScript archive, a torch pickle (a state dict, or a dict holding one under
            'state_dict'; read weights-only), or a .safetensors file (its metadata may store
            the architecture; a sparse token table, as the embedded CLIP keeps, is expanded).

    Returns:
        A :class:`CLIPFile`; ints under ``ARCH_KEYS`` become 0-d tensors.

    Raises:
        FileNotFoundError: no such file.
        dense_clip.utils.checkpoint.CheckpointError: an unreadable, truncated or refused file.
        ValueError: the file holds something other than a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    config, facts = None, {}
    if path.suffix == '.safetensors':
        obj, metadata = read_safetensors(path)
        config = stored_architecture(metadata, str(path))
    elif _is_torchscript_archive(path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', FutureWarning)  # torch.jit is deprecated upstream
                scripted = torch.jit.load(str(path), map_location='cpu')
        except (RuntimeError, OSError) as err:
            raise CheckpointError(f'{path}: not a readable TorchScript archive (truncated or '
                                  f'corrupt?): {" ".join(str(err).split())[:200]}') from err
        obj, facts = dict(scripted.state_dict()), module_facts(scripted)
    else:
        obj = safe_torch_load(path)
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
    if SPARSE_TOKEN_KEYS[0] in state_dict:
        vocab_size = (config or {}).get('text_cfg', {}).get('vocab_size', 49408)
        state_dict = expand_token_table(state_dict, vocab_size)
    facts = {**{k: int(state_dict[k]) for k in ('vision_heads', 'text_heads')
                if k in state_dict}, **facts}
    return CLIPFile(state_dict, config, facts)


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """The state dict of :func:`read_clip_file` (same arguments and errors)."""
    return read_clip_file(path).state_dict


def _from_file(file: CLIPFile, source: str, model_name: str | None, cache_dir: str | None,
               force_quick_gelu: bool = False) -> tuple[nn.Module, Callable]:
    """Builds and loads the model for one weights file (its own architecture when unnamed)."""
    if model_name is None:
        model = build_openai_model(file.state_dict, source=source, config=file.config,
                                   facts=file.facts)
        return model, SimpleTokenizer(context_length=model.context_length)
    check_model_name(model_name)
    kwargs = dict(force_quick_gelu=True) if force_quick_gelu else {}
    model = open_clip.create_model(model_name, pretrained=None, device='cpu', **kwargs)
    check_architecture(model, file.stated_facts(), source, model_name)
    load_checked(model, file.state_dict, source=source, model_name=model_name)
    return model, open_clip.get_tokenizer(model_name, cache_dir=cache_dir)


# ----------------------------------------------------------------------------------------------
# OpenAI layout: build from the file's architecture (stored, read off or guessed), load
# ----------------------------------------------------------------------------------------------
def build_openai_model(state_dict: dict[str, Tensor], source: str = '<state dict>',
                       config: dict[str, Any] | None = None,
                       facts: dict[str, Any] | None = None) -> nn.Module:
    """Builds a CLIP for an OpenAI-layout state dict and loads it (fp32).

    Args:
        state_dict: see ``infer_openai_config``; fp16 weights are cast to fp32.
        source: name used in messages (the file path).
        config: the architecture stored with the weights (used as it is), or None.
        facts: what the file says about heads, activation and pooling (``module_facts`` of a
            TorchScript archive); without ``config``, the rest is guessed by
            :func:`~dense_clip.models.clip.architecture.guess_architecture`, which warns about
            what it assumed or refuses an ambiguous guess.

    Returns:
        The model in eval mode with OpenAI's image mean/std set as its preprocess config.
    """
    if config is None:
        try:
            config = guess_architecture(state_dict, facts or {}, source)
        except ValueError as err:
            message = str(err)
            if not message.startswith(source):
                message = f'{source}: {message}; pass model_name for non-OpenAI layouts'
            raise ValueError(message) from None
    model = build_clip(config)
    load_checked(model, state_dict, source=source, model_name='<architecture of the file>')
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
