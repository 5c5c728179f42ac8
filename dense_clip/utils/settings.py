"""Grouped constructor settings (``encoder=dict(...)``, ``test_cfg=dict(...)``) with defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ['merge_settings']


def merge_settings(group: str, given: Mapping[str, Any] | None,
                   defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` updated by ``given``.

    Args:
        group: the setting's name in messages, e.g. ``'test_cfg'``.
        given: the settings a config passed (None: none).
        defaults: every valid key with its default.

    Raises:
        ValueError: keys of ``given`` that ``defaults`` lacks, listed with the valid ones.
    """
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f'unknown {group} setting(s) {unknown}; valid: {sorted(defaults)}')
    return {**defaults, **given}
