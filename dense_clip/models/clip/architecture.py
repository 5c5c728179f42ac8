"""Which architecture a CLIP weights file holds: stored, read off the file, or guessed.

Weights alone do not say everything about a CLIP: the number of attention heads (a 128-wide
tower may have 2 heads of 64 or 4 of 32), GELU or QuickGELU, and the vision pooling leave no
trace in the tensors' shapes, yet each changes the output. So:

* files this codebase writes (:func:`save_clip_safetensors`, ``dense_clip.testing``, the
  model zoo's converted files, ``tools/model_converters/openai_clip.py``, the embedded CLIP)
  store the open_clip model config in the safetensors metadata under
  :data:`ARCH_METADATA_KEY` (one JSON string: one key keeps the file's bytes reproducible);
* TorchScript archives (OpenAI's release format) still hold their modules, whose head counts,
  activation class and pooling :func:`module_facts` reads;
* ``vision_heads`` / ``text_heads`` entries in a state dict give the head counts;
* anything else is guessed the way OpenAI's ``clip.model.build_model`` does (heads of width 64,
  QuickGELU): :func:`guess_architecture` warns and names what it assumed when the shapes are
  those of an OpenAI release, and refuses (listing the options) when they are not, since the
  head count is then as likely to be wrong as right.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import open_clip
from mmengine.logging import print_log
from torch import Tensor, nn

__all__ = [
    'ARCH_METADATA_KEY',
    'OPENAI_RELEASES',
    'architecture_metadata',
    'architecture_of',
    'check_architecture',
    'config_facts',
    'guess_architecture',
    'infer_openai_config',
    'module_facts',
    'openai_release',
    'save_clip_safetensors',
    'stored_architecture',
]

#: safetensors metadata key holding the open_clip model config (JSON).
ARCH_METADATA_KEY = 'open_clip_config'
#: OpenAI's released CLIPs (open_clip names); their weights use QuickGELU and heads of 64.
OPENAI_RELEASES = ('RN50', 'RN101', 'RN50x4', 'RN50x16', 'RN50x64', 'ViT-B-32', 'ViT-B-16',
                   'ViT-L-14', 'ViT-L-14-336')
_FACTS = ('vision_heads', 'text_heads', 'quick_gelu', 'pool_type')


# ---------------------------------------------------------------------------------- stored
def architecture_metadata(config: dict[str, Any]) -> dict[str, str]:
    """The safetensors metadata that records ``config`` (an open_clip model config)."""
    return {ARCH_METADATA_KEY: json.dumps(config, sort_keys=True)}


def stored_architecture(metadata: dict[str, str] | None, source: str) -> dict[str, Any] | None:
    """The open_clip model config stored in a file's metadata, or None if there is none.

    Raises:
        ValueError: the stored value is not a JSON model config (the message names ``source``).
    """
    text = (metadata or {}).get(ARCH_METADATA_KEY)
    if text is None:
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f'{source}: unreadable {ARCH_METADATA_KEY} metadata: {err}') from None
    if not isinstance(config, dict) or 'vision_cfg' not in config or 'text_cfg' not in config:
        raise ValueError(f'{source}: {ARCH_METADATA_KEY} metadata is not an open_clip model '
                         'config (no vision_cfg / text_cfg)')
    return config


def save_clip_safetensors(model: nn.Module, path: str | os.PathLike,
                          config: dict[str, Any] | None = None,
                          extra: dict[str, Tensor] | None = None) -> Path:
    """Saves a CLIP's state dict as safetensors with its architecture in the metadata.

    Args:
        model: an open_clip ``CLIP`` (any dtype).
        path: the ``.safetensors`` file, written atomically (temporary file, then rename).
        config: its open_clip model config; default :func:`architecture_of` the model.
        extra: more tensors to store (e.g. ``vision_heads`` hints for older readers).

    Returns:
        ``path``.
    """
    from dense_clip.utils.checkpoint import write_safetensors

    path = Path(path)
    state = {**model.state_dict(), **(extra or {})}
    metadata = architecture_metadata(config if config is not None else architecture_of(model))
    write_safetensors(state, path, metadata=metadata)
    return path


# ---------------------------------------------------------------------------------- read off
def _child(module: Any, path: str) -> Any:
    for part in path.split('.'):
        module = getattr(module, part)
    return module


def _class_name(module: Any) -> str:
    return getattr(module, 'original_name', None) or type(module).__name__


def module_facts(model: Any) -> dict[str, Any]:
    """What a CLIP's modules say that its weights do not: heads, activation, pooling.

    Works on a live open_clip / OpenAI ``CLIP`` and on a TorchScript archive of one (OpenAI's
    release format). Facts that cannot be read are left out.

    Returns:
        A dict with some of ``vision_heads``, ``text_heads`` (int), ``quick_gelu`` (bool),
        ``pool_type`` (str).
    """
    facts: dict[str, Any] = {}
    readers = {
        'vision_heads': lambda: int(_child(model, 'visual.transformer.resblocks.0.attn')
                                    .num_heads),
        'text_heads': lambda: int(_child(model, 'transformer.resblocks.0.attn').num_heads),
        'quick_gelu': lambda: _class_name(_child(model, 'transformer.resblocks.0.mlp.gelu'))
        == 'QuickGELU',
    }
    for name, read in readers.items():
        try:
            facts[name] = read()
        except (AttributeError, RuntimeError, TypeError):
            pass
    if 'vision_heads' not in facts:  # ModifiedResNet: the attention pool's heads
        try:
            facts['vision_heads'] = int(_child(model, 'visual.attnpool').num_heads)
        except (AttributeError, RuntimeError, TypeError):
            pass
    try:
        if hasattr(_child(model, 'visual'), 'conv1') and hasattr(_child(model, 'visual'),
                                                                 'transformer'):
            facts['pool_type'] = str(getattr(_child(model, 'visual'), 'pool_type', 'tok'))
    except (AttributeError, RuntimeError):
        pass
    return facts


def config_facts(config: dict[str, Any]) -> dict[str, Any]:
    """The facts (as :func:`module_facts` names them) an open_clip model config fixes."""
    vision, text = config.get('vision_cfg', {}), config.get('text_cfg', {})
    is_resnet = isinstance(vision.get('layers'), (list, tuple))
    width = vision.get('width', 768) * (32 if is_resnet else 1)
    facts: dict[str, Any] = {
        'vision_heads': width // vision.get('head_width', 64),
        'text_heads': text.get('heads', 8),
        'quick_gelu': bool(config.get('quick_gelu', False)),
    }
    if not is_resnet:
        facts['pool_type'] = vision.get('pool_type', 'tok')
    return facts


def architecture_of(model: nn.Module) -> dict[str, Any]:
    """The open_clip model config of a live OpenAI-structured ``CLIP`` (heads, activation and
    pooling read off its modules, sizes off its weights)."""
    return infer_openai_config(model.state_dict(), module_facts(model))


# ---------------------------------------------------------------------------------- inferred
def _count_blocks(state_dict: dict[str, Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    return len({m.group(1) for k in state_dict if (m := pattern.match(k))})


def _heads(facts: dict[str, Any], key: str, width: int, what: str) -> int:
    if key in facts:
        return int(facts[key])
    if width % 64:
        raise ValueError(
            f'cannot infer the {what} head count: width {width} is not a multiple of '
            f"OpenAI's head width 64; store the count under {key!r} in the checkpoint, or its "
            'architecture (dense_clip.models.clip.save_clip_safetensors)'
        )
    return width // 64


def _square_grid(n_tokens: int, key: str) -> int:
    grid = math.isqrt(n_tokens - 1)
    if grid * grid + 1 != n_tokens:
        raise ValueError(f'{key} has {n_tokens} rows, not 1 + a square grid')
    return grid


def _hints(state_dict: dict[str, Tensor]) -> dict[str, int]:
    return {k: int(state_dict[k]) for k in ('vision_heads', 'text_heads') if k in state_dict}


def infer_openai_config(state_dict: dict[str, Tensor],
                        facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Infers an open_clip model config from an OpenAI-layout state dict.

    Follows OpenAI's ``build_model``: ViT width / patch size from ``visual.conv1.weight``, depth
    from the resblocks count, image size from patch size x the positional-embedding grid;
    ResNet stage depths from ``visual.layer{1..4}.*`` keys, width from
    ``visual.layer1.0.conv1.weight``, image size 32 x the attention-pool grid; ``embed_dim`` from
    ``text_projection``; context length, vocabulary, text width and depth from the text keys;
    the MLP ratio from ``c_fc`` (4 for every OpenAI model). Head counts, the activation and the
    pooling come from ``facts``, then from ``vision_heads`` / ``text_heads`` entries, else
    OpenAI's choices: width // 64 heads (x32 for the ResNet pool), QuickGELU, class-token pool.

    Args:
        state_dict: OpenAI-layout keys ('visual.*', 'transformer.*', 'token_embedding.weight',
            'positional_embedding', 'ln_final.*', 'text_projection', 'logit_scale').
        facts: known ``vision_heads``, ``text_heads``, ``quick_gelu``, ``pool_type``.

    Returns:
        dict(embed_dim=..., quick_gelu=..., vision_cfg=dict(...), text_cfg=dict(...)), the
        format of open_clip's model config JSON files.

    Raises:
        ValueError: not an OpenAI-layout CLIP state dict, or heads not inferable.
    """
    sd = state_dict
    facts = {**_hints(sd), **(facts or {})}
    try:
        if 'visual.proj' in sd:
            width, _, patch, _ = sd['visual.conv1.weight'].shape
            grid = _square_grid(
                sd['visual.positional_embedding'].shape[0], 'visual.positional_embedding'
            )
            heads = _heads(facts, 'vision_heads', width, 'vision')
            vision_cfg = dict(
                layers=_count_blocks(sd, 'visual.transformer.resblocks.'),
                width=width,
                head_width=width // heads,
                patch_size=patch,
                image_size=patch * grid,
                mlp_ratio=sd['visual.transformer.resblocks.0.mlp.c_fc.weight'].shape[0] / width,
            )
            if facts.get('pool_type', 'tok') != 'tok':
                vision_cfg['pool_type'] = facts['pool_type']
        elif 'visual.layer1.0.conv1.weight' in sd:
            width = sd['visual.layer1.0.conv1.weight'].shape[0]
            grid = _square_grid(
                sd['visual.attnpool.positional_embedding'].shape[0],
                'visual.attnpool.positional_embedding',
            )
            heads = _heads(facts, 'vision_heads', width * 32, 'vision')
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
            heads=_heads(facts, 'text_heads', text_width, 'text'),
            layers=_count_blocks(sd, 'transformer.resblocks.'),
            mlp_ratio=sd['transformer.resblocks.0.mlp.c_fc.weight'].shape[0] / text_width,
        )
        embed_dim = sd['text_projection'].shape[1]
    except KeyError as err:
        raise ValueError(f'not an OpenAI-layout CLIP state dict: missing {err}') from None
    return dict(embed_dim=embed_dim, quick_gelu=bool(facts.get('quick_gelu', True)),
                vision_cfg=vision_cfg, text_cfg=text_cfg)


def _shape_signature(config: dict[str, Any]) -> tuple:
    vision, text = config['vision_cfg'], config['text_cfg']
    layers = vision.get('layers')
    return (config.get('embed_dim'), tuple(layers) if isinstance(layers, list) else layers,
            vision.get('width'), vision.get('patch_size'), vision.get('image_size'),
            text.get('context_length', 77), text.get('vocab_size', 49408), text.get('width'),
            text.get('layers'))


def openai_release(config: dict[str, Any]) -> str | None:
    """The OpenAI release (open_clip name) whose sizes ``config`` has, or None."""
    signature = _shape_signature(config)
    for name in OPENAI_RELEASES:
        release = open_clip.get_model_config(name)
        if release and _shape_signature(release) == signature:
            return name
    return None


def _describe(config: dict[str, Any]) -> str:
    vision, text = config['vision_cfg'], config['text_cfg']
    kind = 'ResNet' if isinstance(vision.get('layers'), list) else 'ViT'
    return (f"{kind} width {vision['width']} x {vision['layers']} layers, text width "
            f"{text['width']} x {text['layers']} layers")


def _tower_widths(state_dict: dict[str, Tensor]) -> tuple[int, int]:
    """(width the vision heads split: ViT width or 32 x ResNet width, text width)."""
    try:
        if 'visual.proj' in state_dict:
            vision = state_dict['visual.conv1.weight'].shape[0]
        else:
            vision = state_dict['visual.layer1.0.conv1.weight'].shape[0] * 32
        return int(vision), int(state_dict['ln_final.weight'].shape[0])
    except KeyError as err:
        raise ValueError(f'not an OpenAI-layout CLIP state dict: missing {err}') from None


def _head_options(width: int) -> str:
    options = [f'{width // hw} heads of {hw}' for hw in (64, 32, 80, 128)
               if width % hw == 0 and width > hw]
    return ' or '.join(options[:3]) or f'width {width}'


def guess_architecture(state_dict: dict[str, Tensor], facts: dict[str, Any],
                       source: str) -> dict[str, Any]:
    """The architecture of an OpenAI-layout file that stores none, guessed with care.

    Known ``facts`` (and ``vision_heads`` / ``text_heads`` entries) are used as they are; the
    rest follows OpenAI's rules (heads of width 64, QuickGELU, class-token pooling). When
    something had to be assumed, a warning names it if the sizes are an OpenAI release's;
    if they are not and a head count had to be assumed, the guess is refused.

    Returns:
        An open_clip model config.

    Raises:
        ValueError: a guess that would as likely be wrong as right; the message lists what
            to do (name the model, store the heads or the architecture in the file).
    """
    facts = {**_hints(state_dict), **facts}
    vision_width, text_width = _tower_widths(state_dict)
    provisional = dict(facts)  # a head count for each tower, to describe the guess
    for key, width in (('vision_heads', vision_width), ('text_heads', text_width)):
        provisional.setdefault(key, max(width // 64, 1))
    config = infer_openai_config(state_dict, provisional)
    vision, text = config['vision_cfg'], config['text_cfg']
    assumed = []
    if 'vision_heads' not in facts:
        assumed.append(f"{vision_width // vision['head_width']} vision heads of "
                       f"{vision['head_width']}")
    if 'text_heads' not in facts:
        assumed.append(f"{text['heads']} text heads of {text['width'] // text['heads']}")
    if 'quick_gelu' not in facts:
        assumed.append('QuickGELU activations')
    if not assumed:
        return config
    release = openai_release(config)
    heads_assumed = 'vision_heads' not in facts or 'text_heads' not in facts
    if release is None and heads_assumed:
        raise ValueError(
            f"{source}: the file does not store its architecture and its sizes "
            f"({_describe(config)}) are no OpenAI release's, so its attention heads cannot be "
            f'told from the weights (vision: {_head_options(vision_width)}; text: '
            f"{_head_options(text_width)}), nor GELU from QuickGELU. Give the architecture: "
            'model_name (an open_clip name) or model_cfg; or re-save the file with '
            'dense_clip.models.clip.save_clip_safetensors, which stores it; or store the head '
            "counts as 'vision_heads' / 'text_heads' entries (QuickGELU is then assumed)")
    like = f"as in OpenAI's {release}" if release else "OpenAI's choices"
    print_log(f'{source}: the file does not store its architecture; assumed '
              f"{', '.join(assumed)} ({like}). If its weights were trained otherwise (e.g. "
              "with GELU, as LAION's are), give model_name or model_cfg",
              logger='current', level=logging.WARNING)
    return config


# ---------------------------------------------------------------------------------- checked
def check_architecture(model: Any, known: dict[str, Any], source: str, model_name: str) -> None:
    """Raises if ``model`` differs from what the weights file says in heads or activation.

    Shapes are checked when the weights are loaded; these settings are not visible in shapes.

    Args:
        model: the built (or to be loaded) CLIP.
        known: facts the file states (:func:`config_facts` of its stored architecture, the
            facts of a TorchScript archive, ``vision_heads`` / ``text_heads`` entries).
        source: the file, for the message.
        model_name: the model's name, for the message.

    Raises:
        ValueError: the first differences, and how to load the file instead.
    """
    have = module_facts(model)
    differ = [f'{key} {known[key]!r} in the file, {have[key]!r} in {model_name}'
              for key in _FACTS if key in known and key in have and known[key] != have[key]]
    if differ:
        raise ValueError(
            f'{source} was saved from another architecture than {model_name}: '
            f"{'; '.join(differ)}. Leave the model name out to build the file's own "
            "architecture, or name one that matches (e.g. a '-quickgelu' variant)")


def build_clip(config: dict[str, Any]) -> nn.Module:
    """Builds open_clip's ``CLIP`` (or ``CustomTextCLIP``) from a model config, random weights."""
    config = dict(config)
    custom = config.pop('custom_text', False) or 'hf_model_name' in config.get('text_cfg', {})
    cls = open_clip.CustomTextCLIP if custom else open_clip.CLIP
    return cls(**config)
