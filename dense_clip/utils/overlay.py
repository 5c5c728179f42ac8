"""Colour overlays of label maps, with a legend, as PNG files."""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ['draw_overlay', 'palette']


def palette(num_classes: int) -> np.ndarray:
    """``(num_classes, 3)`` uint8 distinct colours (golden-ratio hue steps), stable per index."""
    colours = []
    for i in range(num_classes):
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95 if i % 2 == 0 else 0.75)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return np.array(colours, np.uint8).reshape(-1, 3)


def draw_overlay(image_rgb: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...] | list,
                 out_path: str | Path, alpha: float = 0.55, min_width: int = 256) -> Path:
    """Writes the image, the image blended with coloured labels, and a legend of the classes.

    Args:
        image_rgb: ``(H, W, 3)`` uint8.
        labels: ``(H, W)`` class indices into ``class_names``.
        class_names: names in index order.
        out_path: PNG file to write (folders are created).
        alpha: opacity of the colour layer, 0 to 1.
        min_width: small images are upscaled (nearest) to at least this width for legibility.

    Returns:
        The written path.
    """
    if image_rgb.shape[:2] != labels.shape:
        raise ValueError(f'image {image_rgb.shape[:2]} and labels {labels.shape} differ in size')
    colours = palette(len(class_names))
    blend = (1 - alpha) * image_rgb.astype(np.float32) + alpha * colours[labels].astype(np.float32)
    overlay = Image.fromarray(blend.clip(0, 255).astype(np.uint8))
    scale = max(1, int(np.ceil(min_width / overlay.width)))
    size = (overlay.width * scale, overlay.height * scale)
    canvas = Image.new('RGB', (2 * size[0] + 4, size[1]), (255, 255, 255))  # image | overlay
    canvas.paste(Image.fromarray(image_rgb).resize(size, Image.NEAREST), (0, 0))
    canvas.paste(overlay.resize(size, Image.NEAREST), (size[0] + 4, 0))

    counts = np.bincount(labels.ravel(), minlength=len(class_names))
    present = [i for i in np.argsort(-counts) if counts[i] > 0]
    font = ImageFont.load_default()
    row = 16
    legend_w = 12 + max(len(f'{class_names[i]} 100.0%') for i in present) * 7 + 24
    height = max(canvas.height, row * len(present) + 12)
    sheet = Image.new('RGB', (canvas.width + legend_w, height), (255, 255, 255))
    sheet.paste(canvas, (0, 0))
    draw = ImageDraw.Draw(sheet)
    for line, i in enumerate(present):
        x, y = canvas.width + 8, 6 + line * row
        draw.rectangle([x, y + 2, x + 11, y + 13], fill=tuple(int(c) for c in colours[i]),
                       outline=(0, 0, 0))
        share = 100.0 * counts[i] / labels.size
        draw.text((x + 18, y + 2), f'{class_names[i]} {share:.1f}%', fill=(0, 0, 0), font=font)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_path)
    return out_path
