"""The authors' CAT-Seg checkpoints (detectron2 layout) <-> this codebase's keys, both ways.

The released models (KU-CVLAB/CAT-Seg README: ``model_base.pth`` ViT-B/16, ``model_large.pth``
ViT-L/14@336) are detectron2 checkpoints: a dict whose ``model`` entry is the state dict of the
``CATSeg`` meta-architecture (``cat_seg/cat_seg_model.py``):

* ``sem_seg_head.predictor.clip_model.*``: the fine-tuned CLIP in OpenAI's layout, except that
  every attention block (image and text) stores ``q_proj_weight`` / ``k_proj_weight`` /
  ``v_proj_weight`` instead of the packed ``in_proj_weight`` (``third_party/model_vpt.py``);
* ``sem_seg_head.predictor.transformer.*``: the ``Aggregator`` (``modeling/transformer/model.py``);
* ``upsample1.*`` / ``upsample2.*``: the transposed convs of the guidance layers.

Their shifted Swin blocks also store the shifted-window attention mask as a buffer
(``...block_2.attn_mask``, for the fixed 24x24 feature grid); it is derived data, so it is checked
against the mask this codebase computes and dropped, and written back by :func:`to_authors`.

Here they become ``clip_model.*`` (open_clip's CLIP, q/k/v packed), ``aggregator.*`` and
``guidance_upsample.{0,1}.*`` (the state dict of :class:`CATSegModel`, and of the segmentor under
``model.``). The key map is data (:data:`AGGREGATOR_RULES`), applied in either direction, so a
round trip is exact. A key no rule maps is an error that lists it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from dense_clip.utils.checkpoint import CheckpointError

from .spatial import shifted_window_mask

__all__ = ['AGGREGATOR_RULES', 'PREFIXES', 'describe_tower', 'from_authors', 'to_authors',
           'unwrap_checkpoint']

#: Top-level prefixes: authors' -> ours.
PREFIXES: tuple[tuple[str, str], ...] = (
    ('sem_seg_head.predictor.clip_model.', 'clip_model.'),
    ('sem_seg_head.predictor.transformer.', 'aggregator.'),
    ('upsample1.', 'guidance_upsample.0.'),
    ('upsample2.', 'guidance_upsample.1.'),
)

#: Aggregator key templates, authors' -> ours. ``{a}`` is an index copied as is, ``{b+1}`` an
#: index that is 1-based in the authors' name and 0-based in ours; the rest of the key follows.
#: Each key matches exactly one rule in each direction (tested).
AGGREGATOR_RULES: tuple[tuple[str, str], ...] = (
    ('conv1.', 'cost_embed.'),
    ('guidance_projection.0.', 'appearance_proj.0.'),
    ('text_guidance_projection.0.', 'text_proj.0.'),
    ('decoder_guidance_projection.{a}.0.', 'decoder.guidance_proj.{a}.0.'),
    ('layers.{a}.swin_block.block_{b+1}.', 'layers.{a}.spatial.blocks.{b}.'),
    ('layers.{a}.swin_block.guidance_norm.', 'layers.{a}.spatial.guidance_norm.'),
    ('layers.{a}.attention.attention.q.', 'layers.{a}.classes.q.'),
    ('layers.{a}.attention.attention.k.', 'layers.{a}.classes.k.'),
    ('layers.{a}.attention.attention.v.', 'layers.{a}.classes.v.'),
    ('layers.{a}.attention.MLP.', 'layers.{a}.classes.mlp.'),
    ('layers.{a}.attention.norm1.', 'layers.{a}.classes.norm1.'),
    ('layers.{a}.attention.norm2.', 'layers.{a}.classes.norm2.'),
    ('layers.{a}.attention.padding_tokens', 'layers.{a}.classes.padding_tokens'),
    ('layers.{a}.attention.padding_guidance', 'layers.{a}.classes.padding_guidance'),
    ('decoder{b+1}.conv.double_conv.', 'decoder.blocks.{b}.conv.'),
    ('decoder{b+1}.up.', 'decoder.blocks.{b}.up.'),
    ('head.', 'decoder.head.'),
)

_FIELD = re.compile(r'\{(\w)(\+1)?\}')


def _compile(template: str) -> re.Pattern:
    parts, pos = [], 0
    for match in _FIELD.finditer(template):
        parts.append(re.escape(template[pos:match.start()]))
        parts.append(f'(?P<{match.group(1)}>\\d+)')
        pos = match.end()
    parts.append(re.escape(template[pos:]))
    return re.compile('^' + ''.join(parts) + '(?P<rest>.*)$')


def _fill(template: str, fields: dict[str, int], shift: int) -> str:
    """Fills a template; fields written ``{b+1}`` get ``shift`` added (+1 or -1 or 0)."""
    def value(match: re.Match) -> str:
        return str(fields[match.group(1)] + (shift if match.group(2) else 0))

    return _FIELD.sub(value, template)


def _map_aggregator(key: str, to_ours: bool) -> str | None:
    for authors, ours in AGGREGATOR_RULES:
        source, target = (authors, ours) if to_ours else (ours, authors)
        match = _compile(source).match(key)
        if match is None:
            continue
        fields = {k: int(v) for k, v in match.groupdict().items() if k != 'rest'}
        # A field written {b+1} is stored one higher on the authors' side.
        if to_ours:
            fields = {k: v - (1 if f'{{{k}+1}}' in source else 0) for k, v in fields.items()}
            return _fill(target, fields, 0) + match['rest']
        return _fill(target, fields, 1) + match['rest']
    return None


_QKV = ('q_proj_weight', 'k_proj_weight', 'v_proj_weight')
_MASK = re.compile(r'^layers\.(\d+)\.swin_block\.block_2\.attn_mask$')


def _check_mask(key: str, mask: Tensor, source: str) -> None:
    """Checks a stored shifted-window mask against the one computed here (same grid)."""
    windows, length = mask.shape[0], mask.shape[-1]
    window, per_side = round(length ** 0.5), round(windows ** 0.5)
    grid = window * per_side
    expected = shifted_window_mask(grid, grid, window, window // 2)
    if mask.shape != expected.shape or not torch.equal(mask.float(), expected):
        raise CheckpointError(f'{source}: {key} is not the shifted-window mask of a {grid}x{grid} '
                              f'grid with {window}x{window} windows')


def unwrap_checkpoint(obj: object, source: str = 'checkpoint') -> dict[str, Tensor]:
    """The state dict inside a loaded checkpoint (detectron2 ``model``, mmengine ``state_dict``,
    or a bare state dict), ``module.`` prefixes removed."""
    if isinstance(obj, Mapping):
        for key in ('model', 'state_dict'):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(f'{source}: not a state dict (expected tensors by name, or a '
                              "dict with 'model' / 'state_dict')")
    return {k.removeprefix('module.'): v for k, v in obj.items()}


def from_authors(state: Mapping[str, Tensor], source: str = 'checkpoint') -> dict[str, Tensor]:
    """Converts an authors' CATSeg state dict to this codebase's keys.

    Args:
        state: the ``model`` state dict of an authors' checkpoint (see the module docstring).
        source: where it came from, for messages.

    Returns:
        ``CATSegModel`` keys (``clip_model.*`` with packed ``in_proj_weight``, ``aggregator.*``,
        ``guidance_upsample.*``).

    Raises:
        CheckpointError: keys that no rule maps (all listed), or a block missing one of its
            q/k/v weights.
    """
    out: dict[str, Tensor] = {}
    unknown: list[str] = []
    qkv: dict[str, dict[str, Tensor]] = {}
    for key, value in state.items():
        prefix = next(((a, o) for a, o in PREFIXES if key.startswith(a)), None)
        if prefix is None:
            unknown.append(key)
            continue
        rest = key[len(prefix[0]):]
        if prefix[1] == 'clip_model.':
            head, _, leaf = rest.rpartition('.')
            if leaf in _QKV:
                qkv.setdefault(head, {})[leaf] = value
                continue
            out[prefix[1] + rest] = value
        elif prefix[1] == 'aggregator.':
            if _MASK.match(rest):
                _check_mask(key, value, source)
                continue
            mapped = _map_aggregator(rest, to_ours=True)
            if mapped is None:
                unknown.append(key)
                continue
            out[prefix[1] + mapped] = value
        else:
            out[prefix[1] + rest] = value
    if unknown:
        raise CheckpointError(f'{source}: {len(unknown)} key(s) of no known CAT-Seg layout: '
                              f'{sorted(unknown)}')
    for head, parts in sorted(qkv.items()):
        missing = [leaf for leaf in _QKV if leaf not in parts]
        if missing:
            raise CheckpointError(f'{source}: clip_model.{head} lacks {missing}')
        out[f'clip_model.{head}.in_proj_weight'] = torch.cat([parts[leaf] for leaf in _QKV])
    return out


def to_authors(state: Mapping[str, Tensor], feature_grid: tuple[int, int] = (24, 24),
               window_size: int = 12) -> dict[str, Tensor]:
    """Converts ``CATSegModel`` keys back to the authors' layout (inverse of
    :func:`from_authors`); a ``catseg.`` prefix (the segmentor's) is accepted.

    Args:
        state: ``CATSegModel`` (or segmentor) state dict.
        feature_grid: (h, w) feature grid of the model (24x24 for both released models), for
            the shifted-window masks the authors' blocks store.
        window_size: the aggregator's window size (12 for both released models).

    Raises:
        CheckpointError: keys outside ``clip_model.`` / ``aggregator.`` /
            ``guidance_upsample.`` (listed), or an unknown aggregator key.
    """
    out: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        key = key.removeprefix('catseg.')
        prefix = next(((a, o) for a, o in PREFIXES if key.startswith(o)), None)
        if prefix is None:
            unknown.append(key)
            continue
        rest = key[len(prefix[1]):]
        if prefix[1] == 'clip_model.' and rest.endswith('.in_proj_weight'):
            head = rest.removesuffix('.in_proj_weight')
            for leaf, part in zip(_QKV, value.chunk(3, dim=0)):
                out[f'{prefix[0]}{head}.{leaf}'] = part.clone()
            continue
        if prefix[1] == 'aggregator.':
            rest = _map_aggregator(rest, to_ours=False)
            if rest is None:
                unknown.append(key)
                continue
        out[prefix[0] + rest] = value
    if unknown:
        raise CheckpointError(f'{len(unknown)} key(s) cannot be written in the authors\' '
                              f'layout: {sorted(unknown)}')
    window, shift = window_size, window_size // 2
    if min(feature_grid) <= window:  # the authors' blocks then neither shift nor mask
        shift = 0
    layers = {int(m.group(1)) for k in state
              if (m := re.match(r'^(?:catseg\.)?aggregator\.layers\.(\d+)\.', k))}
    if shift:
        mask = shifted_window_mask(*feature_grid, window, shift)
        for layer in sorted(layers):
            out[f'sem_seg_head.predictor.transformer.layers.{layer}.swin_block.block_2.attn_mask'] \
                = mask.clone()
    return out


#: (width, blocks, patch) of the released towers -> their names.
_TOWER_NAMES = {(768, 12, 16): 'ViT-B/16', (1024, 24, 14): 'ViT-L/14'}


def describe_tower(state: Mapping[str, Tensor], prefix: str = 'clip_model.') -> str:
    """Names the image tower of a state dict, e.g. 'ViT-B/16 (width 768, 12 blocks, patch 16,
    input 224)'."""
    conv = state.get(f'{prefix}visual.conv1.weight')
    pos = state.get(f'{prefix}visual.positional_embedding')
    if conv is None:
        return 'no image tower'
    width, patch = conv.shape[0], conv.shape[-1]
    pattern = re.compile(re.escape(f'{prefix}visual.transformer.resblocks.') + r'(\d+)\.')
    blocks = len({m.group(1) for k in state if (m := pattern.match(k))})
    size = ''
    if pos is not None:
        size = f', input {round((pos.shape[0] - 1) ** 0.5) * patch}'
    name = _TOWER_NAMES.get((width, blocks, patch), 'ViT')
    return f'{name} (width {width}, {blocks} blocks, patch {patch}{size})'
