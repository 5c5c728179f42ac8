"""Weights that depend only on a seed and a module's state-dict layout.

Regression data must not change when a refactor builds modules in another order (which moves
``torch.manual_seed``-based initialisation). :func:`seeded_state_dict` draws every tensor from one
generator in sorted key order, so the weights are a function of (seed, keys, shapes) alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

__all__ = ['seeded_state_dict', 'seeded_tensors']


def seeded_state_dict(module: nn.Module, seed: int, scale: float = 0.05) -> dict[str, torch.Tensor]:
    """A state dict for ``module`` drawn from ``N(0, scale²)`` in sorted key order.

    Norm weights (1-D ``weight`` tensors) are centred on 1, BatchNorm running statistics are
    (0, 1), ``logit_scale`` and integer buffers are kept as they are.

    Args:
        module: the module whose ``state_dict()`` layout to fill.
        seed: generator seed.
        scale: standard deviation of the random values.

    Returns:
        key -> tensor, same dtypes and shapes as ``module.state_dict()``.
    """
    return seeded_tensors(module.state_dict(), seed, scale)


def seeded_tensors(layout: Mapping[str, torch.Tensor], seed: int,
                   scale: float = 0.05) -> dict[str, torch.Tensor]:
    """:func:`seeded_state_dict` for a state-dict layout given as tensors by name (e.g. a
    checkpoint layout written without its model): same draws for the same keys and shapes."""
    generator = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for name, value in sorted(layout.items()):
        leaf = name.rsplit('.', 1)[-1]
        if not value.is_floating_point() or name == 'logit_scale':
            out[name] = value.clone()
        elif leaf == 'running_var':
            out[name] = torch.ones_like(value)
        elif leaf == 'running_mean':
            out[name] = torch.zeros_like(value)
        else:
            drawn = torch.randn(value.shape, generator=generator, dtype=torch.float32) * scale
            if leaf == 'weight' and value.dim() == 1:
                drawn = drawn + 1.0
            out[name] = drawn.to(value.dtype)
    return out
