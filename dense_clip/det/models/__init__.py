"""Detectors and their parts (registered in mmdet's registries)."""

from . import detectors  # noqa: F401

__all__ = ['detectors']
