"""Backbones: F-ViT's frozen CLIP ViT with a simple feature pyramid."""

from .clip_vit_pyramid import CLIPViTPyramid

__all__ = ['CLIPViTPyramid']
