"""Shrinking real configs for tests: the same model, with tiny random towers and no files read."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ['TINY_VIT_CFG', 'shrink_model_config']

#: A tiny open_clip architecture that stands in for ViT-B/16 when building configs.
TINY_VIT_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=16),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
)


def shrink_model_config(model_cfg: Any, clip_cfg: dict | None = None) -> Any:
    """A copy of a model config whose CLIP and proxy models are tiny (random weights).

    Every dict under a ``clip`` key becomes ``dict(model_cfg=clip_cfg or TINY_VIT_CFG,
    pretrained=None)``, every registered proxy (under ``proxy`` / ``teacher`` keys) and every
    Segment Anything model (a dict under a ``sam`` key) gets ``tiny=True``. A dict that holds
    both a ``clip`` and block ``out_indices`` (F-ViT's pyramid) gets its indices mapped
    proportionally onto the tiny tower's depth (block i of a D-block tower, D = max index + 1,
    becomes block i * layers // D).
    """
    from dense_clip.models.proxy import shrink_proxies

    model_cfg = copy.deepcopy(model_cfg)
    tiny = dict(model_cfg=copy.deepcopy(clip_cfg or TINY_VIT_CFG), pretrained=None)

    layers = tiny['model_cfg'].get('vision_cfg', {}).get('layers')

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            indices = node.get('out_indices')
            if 'clip' in node and isinstance(layers, int) and isinstance(indices, (list, tuple)):
                deepest = max(indices) + 1
                node['out_indices'] = tuple(min(layers - 1, i * layers // deepest)
                                            for i in indices)
            for key in list(node):
                if key == 'clip' and isinstance(node[key], dict):
                    node[key] = copy.deepcopy(tiny)
                elif key == 'sam' and isinstance(node[key], dict):
                    node[key]['tiny'] = True
                else:
                    visit(node[key])
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(model_cfg)
    return shrink_proxies(model_cfg)
