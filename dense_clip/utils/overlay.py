"""Colour overlays of label maps side by side, with a legend of the classes present.

Used by ``tools/demo.py``, the web demo and ``tools/test.py --show-dir`` (image | prediction |
ground truth).
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ['check_alpha', 'check_image_path', 'draw_overlay', 'label_shares', 'palette',
           'render_overlay', 'render_panels']

_GAP = 4  # pixels between panels
_ROW = 16  # legend row height
_TITLE = 18  # title band height


def check_alpha(alpha: float, name: str = 'alpha') -> float:
    """Returns ``alpha`` as a float if it is an opacity from 0 to 1.

    Raises:
        ValueError: NaN, infinite, outside [0, 1] or not a number (the message names ``name``).
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float('nan')
    if not 0.0 <= value <= 1.0:  # False for NaN too
        raise ValueError(f'{name} {alpha!r}: the overlay opacity must be a number from 0 '
                         '(image only) to 1 (colours only)')
    return value


def check_image_path(path: str | Path, name: str = 'output') -> Path:
    """Returns ``path`` if its extension names an image format Pillow writes (.png, .jpg, ...).

    Checked before any work is done, so a bad name never costs a finished result.

    Raises:
        ValueError: no extension, or one Pillow cannot write (the message names ``path``).
    """
    path = Path(path)
    Image.init()
    writable = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.SAVE}
    if path.suffix.lower() not in writable:
        what = f'extension {path.suffix!r}' if path.suffix else 'no file extension'
        raise ValueError(f'{name} {str(path)!r} has {what}; give an image file name such as '
                         f'{path.with_suffix(".png").name!r} (.png, .jpg, .webp, ...)')
    return path


def palette(num_classes: int) -> np.ndarray:
    """``(num_classes, 3)`` uint8 distinct colours (golden-ratio hue steps), stable per index."""
    colours = []
    for i in range(num_classes):
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95 if i % 2 == 0 else 0.75)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return np.array(colours, np.uint8).reshape(-1, 3)


def label_shares(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``(num_classes,)`` float64 fraction (0-1) of the labelled pixels per class.

    Pixels with a label outside ``[0, num_classes)`` (ignore values such as 255) are not counted.
    """
    flat = labels.ravel()
    valid = flat[(flat >= 0) & (flat < num_classes)].astype(np.int64)
    counts = np.bincount(valid, minlength=num_classes).astype(np.float64)
    return counts / max(1, valid.size)


def _font(size: int = 11) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def _blend(image_rgb: np.ndarray, labels: np.ndarray, colours: np.ndarray,
           alpha: float) -> np.ndarray:
    valid = (labels >= 0) & (labels < len(colours))
    colour_layer = colours[np.where(valid, labels, 0)].astype(np.float32)
    blend = (1 - alpha) * image_rgb.astype(np.float32) + alpha * colour_layer
    blend[~valid] = image_rgb[~valid]  # ignored pixels show the image
    return blend.clip(0, 255).astype(np.uint8)


def render_panels(image_rgb: np.ndarray, panels: Sequence[tuple[str, np.ndarray]],
                  class_names: Sequence[str], colours: np.ndarray | None = None,
                  alpha: float = 0.55, min_width: int = 256) -> np.ndarray:
    """Draws the image and each label map over it side by side, titled, with a legend.

    The legend lists every class present in any panel, ordered by its share in the first
    panel, with its share of the labelled pixels in each panel.

    Args:
        image_rgb: ``(H, W, 3)`` uint8 RGB.
        panels: ``(title, labels)`` pairs; labels ``(H, W)`` integer class indices into
            ``class_names``; values outside the range (e.g. 255, 65535) are drawn uncoloured.
        class_names: Names in index order.
        colours: ``(>= num_classes, 3)`` uint8 colours; default :func:`palette`.
        alpha: Opacity of the colour layer, 0 to 1.
        min_width: Small images are upscaled (nearest) to at least this width per panel.

    Returns:
        ``(H', W', 3)`` uint8 RGB sheet.

    Raises:
        ValueError: ``alpha`` outside [0, 1] or NaN; labels and image of different sizes.
    """
    alpha = check_alpha(alpha)
    num_classes = len(class_names)
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f'expected an (H, W, 3) uint8 image, got {image_rgb.shape} '
                         f'{image_rgb.dtype}')
    for title, labels in panels:
        if labels.shape != image_rgb.shape[:2]:
            raise ValueError(f'{title}: labels {labels.shape} and image '
                             f'{image_rgb.shape[:2]} differ in size')
    colours = palette(num_classes) if colours is None else np.asarray(colours, np.uint8)
    if len(colours) < num_classes:
        raise ValueError(f'{len(colours)} colours for {num_classes} classes')
    height, width = image_rgb.shape[:2]
    scale = max(1, int(np.ceil(min_width / width)))
    size = (width * scale, height * scale)
    tiles = [('image', image_rgb)] + [(t, _blend(image_rgb, lab.astype(np.int64), colours, alpha))
                                      for t, lab in panels]
    canvas_w = len(tiles) * size[0] + (len(tiles) - 1) * _GAP

    shares = [label_shares(lab, num_classes) for _, lab in panels]
    present = [i for i in np.argsort(-shares[0], kind='stable') if any(s[i] > 0 for s in shares)]
    font = _font()
    probe = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    texts = [f'{class_names[i]}  ' + ' / '.join(f'{100 * s[i]:.1f}%' for s in shares)
             for i in present]
    header = 'class  ' + ' / '.join(t for t, _ in panels) if panels else ''
    legend_w = 24 + int(max([probe.textlength(t, font=font) for t in texts + [header]] + [0]))
    sheet_h = max(_TITLE + size[1], _TITLE + _ROW * (len(present) + 1) + 8)
    sheet = Image.new('RGB', (canvas_w + legend_w + 8, sheet_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for k, (title, tile) in enumerate(tiles):
        x = k * (size[0] + _GAP)
        sheet.paste(Image.fromarray(tile).resize(size, Image.NEAREST), (x, _TITLE))
        draw.text((x + 2, 3), title, fill=(0, 0, 0), font=font)
    x0 = canvas_w + 8
    draw.text((x0, 3), header, fill=(0, 0, 0), font=font)
    for line, (i, text) in enumerate(zip(present, texts)):
        y = _TITLE + line * _ROW
        draw.rectangle([x0, y + 2, x0 + 11, y + 13], fill=tuple(int(c) for c in colours[i]),
                       outline=(0, 0, 0))
        draw.text((x0 + 18, y + 2), text, fill=(0, 0, 0), font=font)
    return np.asarray(sheet)


def render_overlay(image_rgb: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   alpha: float = 0.55, min_width: int = 256) -> np.ndarray:
    """The image and its predicted labels side by side with a legend (pixel shares).

    Returns:
        ``(H', W', 3)`` uint8 RGB.
    """
    return render_panels(image_rgb, [('prediction', labels)], class_names, alpha=alpha,
                         min_width=min_width)


def draw_overlay(image_rgb: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...] | list,
                 out_path: str | Path, alpha: float = 0.55, min_width: int = 256) -> Path:
    """Writes :func:`render_overlay` as a PNG file (folders are created).

    Args:
        image_rgb: ``(H, W, 3)`` uint8.
        labels: ``(H, W)`` class indices into ``class_names``.
        class_names: names in index order.
        out_path: PNG file to write.
        alpha: opacity of the colour layer, 0 to 1.
        min_width: small images are upscaled (nearest) to at least this width for legibility.

    Returns:
        The written path.

    Raises:
        ValueError: ``out_path`` has no image extension Pillow writes, or a bad ``alpha``.
    """
    out_path = check_image_path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(render_overlay(image_rgb, labels, class_names, alpha, min_width)).save(out_path)
    return out_path
