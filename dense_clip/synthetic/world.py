"""A procedural open-vocabulary world: coloured, textured objects on cluttered backgrounds.

Every category is a colour x texture pair ("red striped"), i.e. a word pair describing *local*
appearance that is visible inside a single 8x8 patch, so dense (per-patch) predictors can in
principle recognise it. Object shapes (ellipse, box, triangle, blob) vary but are never part of
a class name. Backgrounds are desaturated materials (sand, gravel, ...) with grey clutter; they
all map to class 0 ("background") and their material names are the background synonyms.

Seen / unseen split (compositional zero-shot): 6 colours x 4 textures = 24 classes; the 6 pairs
``(COLOURS[i], TEXTURES[i % 4])`` are *unseen*, i.e. never drawn in training images and never
named in training captions. Every colour and every texture word still occurs in seen classes, so
an unseen class is a new composition of known words.

All randomness comes from ``numpy.random.default_rng([seed, index])`` so any sample can be
regenerated on its own and the same seed gives the same bytes.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np

COLOURS: dict[str, float] = {  # name -> hue in degrees
    'red': 0.0,
    'orange': 28.0,
    'yellow': 55.0,
    'green': 125.0,
    'blue': 225.0,
    'purple': 285.0,
}
# texture -> (adjective, noun) forms used in class names and captions.
TEXTURES: dict[str, tuple[str, str]] = {
    'plain': ('plain', 'solid'),
    'striped': ('striped', 'stripes'),
    'dotted': ('dotted', 'dots'),
    'checkered': ('checkered', 'checks'),
}
# background material -> (base RGB 0-1, grain: 'low' | 'high' | 'bands').
BACKGROUNDS: dict[str, tuple[tuple[float, float, float], str]] = {
    'sand': ((0.78, 0.72, 0.58), 'low'),
    'gravel': ((0.52, 0.52, 0.50), 'high'),
    'concrete': ((0.72, 0.72, 0.72), 'low'),
    'asphalt': ((0.26, 0.26, 0.28), 'high'),
    'wood': ((0.50, 0.40, 0.30), 'bands'),
}
SHAPES: tuple[str, ...] = ('ellipse', 'box', 'triangle', 'blob')


@dataclass(frozen=True)
class Category:
    """One object category.

    Attributes:
        index: Label index in segmentation masks (1-based; 0 is background).
        colour: Colour word.
        texture: Texture key of :data:`TEXTURES`.
        seen: Whether the category may appear in training data.
    """

    index: int
    colour: str
    texture: str
    seen: bool

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``'red striped'``."""
        return f'{self.colour} {TEXTURES[self.texture][0]}'

    @property
    def synonyms(self) -> list[str]:
        """All names, canonical first, e.g. ``['red striped', 'red stripes']``."""
        adj, noun = TEXTURES[self.texture]
        return [f'{self.colour} {adj}', f'{self.colour} {noun}']


def categories() -> list[Category]:
    """Returns the 24 categories in label order (index 1..24)."""
    cats = []
    for ci, colour in enumerate(COLOURS):
        for ti, texture in enumerate(TEXTURES):
            seen = ti != ci % len(TEXTURES)
            cats.append(Category(len(cats) + 1, colour, texture, seen))
    return cats


def background_names() -> list[str]:
    """Names of the background class: ``'background'`` then every material."""
    return ['background', *BACKGROUNDS]


def class_name_lines() -> list[str]:
    """Lines of the class-name file: background first, comma-separated synonyms."""
    return [','.join(background_names())] + [','.join(c.synonyms) for c in categories()]


@dataclass
class ObjectSpec:
    """One placed object. ``mask`` is its *visible* HxW bool mask after occlusion."""

    category: Category
    shape: str
    mask: np.ndarray = field(repr=False)


@dataclass
class Scene:
    """A rendered scene.

    Attributes:
        image: HxWx3 uint8 RGB image, 0-255.
        label: HxW uint8 semantic labels, 0 = background, 1..24 = category index.
        objects: Visible objects, in drawing order (masks are visible parts only).
        background: Background material name.
    """

    image: np.ndarray
    label: np.ndarray
    objects: list[ObjectSpec]
    background: str


def _hsv_rgb(hue_deg: float, sat: float, val: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, sat, val), dtype=np.float32)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Bilinearly upsampled uniform noise in [-1, 1], shape (size, size)."""
    coarse = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
    pos = np.linspace(0.0, cells, size, dtype=np.float32)
    i0 = np.minimum(pos.astype(np.int64), cells - 1)
    frac = pos - i0
    rows = coarse[i0] * (1 - frac)[:, None] + coarse[i0 + 1] * frac[:, None]
    return rows[:, i0] * (1 - frac)[None] + rows[:, i0 + 1] * frac[None]


def _background(rng: np.random.Generator, size: int, material: str) -> np.ndarray:
    base, grain = BACKGROUNDS[material]
    img = np.empty((size, size, 3), np.float32)
    img[:] = np.asarray(base, np.float32) * rng.uniform(0.85, 1.15)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if grain == 'low':
        tex = 0.08 * _smooth_noise(rng, size, 4) + 0.03 * rng.standard_normal((size, size))
    elif grain == 'high':
        tex = 0.10 * rng.standard_normal((size, size)) + 0.05 * _smooth_noise(rng, size, 8)
    else:  # wood: wavy low-contrast bands
        angle = rng.uniform(0, np.pi)
        u = xx * np.cos(angle) + yy * np.sin(angle) + 3 * _smooth_noise(rng, size, 3)
        tex = 0.07 * np.sin(u * rng.uniform(0.35, 0.6)) + 0.02 * rng.standard_normal((size, size))
    img += tex[..., None].astype(np.float32)
    # Clutter: small desaturated shapes and thin lines (labelled background).
    for _ in range(int(rng.integers(3, 9))):
        mask = _shape_mask(rng, size, str(rng.choice(SHAPES)), rng.uniform(2, 5), yy, xx)
        grey = rng.uniform(0.15, 0.9)
        tint = _hsv_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.2), grey)
        img[mask] = tint
    for _ in range(int(rng.integers(0, 3))):
        angle, off = rng.uniform(0, np.pi), rng.uniform(-size / 2, size / 2)
        dist = np.abs((xx - size / 2) * np.sin(angle) - (yy - size / 2) * np.cos(angle) - off)
        img[dist < 0.6] = rng.uniform(0.1, 0.9)
    return img


def _shape_mask(
    rng: np.random.Generator,
    size: int,
    shape: str,
    radius: float,
    yy: np.ndarray,
    xx: np.ndarray,
    centre: tuple[float, float] | None = None,
) -> np.ndarray:
    """Bool (size, size) mask of a shape of roughly ``radius`` pixels."""
    cy, cx = centre if centre is not None else rng.uniform(0, size, 2)
    theta = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)
    v = -(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)
    aspect = rng.uniform(0.7, 1.0)
    if shape == 'ellipse':
        return (u / radius) ** 2 + (v / (radius * aspect)) ** 2 <= 1.0
    if shape == 'box':
        return (np.abs(u) <= radius * 0.9) & (np.abs(v) <= radius * 0.9 * aspect)
    if shape == 'triangle':
        r = radius * 1.25
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            a = 2 * np.pi * k / 3
            inside &= u * np.cos(a) + v * np.sin(a) <= r / 2
        return inside
    if shape == 'blob':
        phi = np.arctan2(v, u)
        rad = np.full_like(phi, radius)
        for h in (2, 3, 5):
            rad += radius * rng.uniform(0.0, 0.15) * np.sin(h * phi + rng.uniform(0, 2 * np.pi))
        return np.hypot(u, v) <= rad
    raise ValueError(f'Unknown shape {shape!r}; valid: {SHAPES}')


def _texture(rng: np.random.Generator, texture: str, yy: np.ndarray, xx: np.ndarray) -> tuple:
    """Returns (pattern in [0, 1] of shape HxW, secondary RGB colour)."""
    py, px = rng.uniform(0, 4, 2)
    if texture == 'plain':
        return np.zeros_like(yy), np.zeros(3, np.float32)
    if texture == 'striped':
        angle = rng.choice([0.0, 0.25, 0.5, 0.75]) * np.pi
        u = xx * np.cos(angle) + yy * np.sin(angle) + px
        return (np.floor(u / 2.0) % 2).astype(np.float32), np.full(3, 0.08, np.float32)
    if texture == 'dotted':
        dy, dx = (yy + py) % 5 - 2.0, (xx + px) % 5 - 2.0
        return (dy**2 + dx**2 <= 1.6).astype(np.float32), np.full(3, 0.97, np.float32)
    if texture == 'checkered':
        pat = (np.floor((yy + py) / 2) + np.floor((xx + px) / 2)) % 2
        return pat.astype(np.float32), np.full(3, 0.95, np.float32)
    raise ValueError(f'Unknown texture {texture!r}; valid: {list(TEXTURES)}')


def render_scene(
    rng: np.random.Generator,
    cats: list[Category],
    size: int = 64,
    radius_range: tuple[float, float] = (10.0, 18.0),
    min_visible: float = 0.6,
) -> Scene:
    """Renders objects of the given categories on a random cluttered background.

    Args:
        rng: Random generator (the only source of randomness).
        cats: Categories to draw, one object each, in drawing order (may be empty).
        size: Image side in pixels.
        radius_range: Object radius range in pixels, scaled by ``size / 64``.
        min_visible: Placement is retried until every object keeps this visible fraction.

    Returns:
        The rendered :class:`Scene`.
    """
    material = str(rng.choice(list(BACKGROUNDS)))
    img = _background(rng, size, material)
    label = np.zeros((size, size), np.uint8)
    owner = np.full((size, size), -1, np.int64)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    scale = size / 64.0
    full_masks: list[np.ndarray] = []
    shapes: list[str] = []
    for k, cat in enumerate(cats):
        for _attempt in range(20):
            radius = rng.uniform(*radius_range) * scale
            margin = radius * 0.6
            centre = tuple(rng.uniform(margin, size - margin, 2))
            shape = str(rng.choice(SHAPES))
            mask = _shape_mask(rng, size, shape, radius, yy, xx, centre)
            if mask.sum() < 16 * scale * scale:
                continue
            # Keep earlier objects mostly visible, too.
            ok = all(
                (m & ~mask & (owner == j)).sum() >= min_visible * m.sum()
                for j, m in enumerate(full_masks)
            )
            if ok:
                break
        full_masks.append(mask)
        shapes.append(shape)
        hue = COLOURS[cat.colour] + rng.uniform(-8, 8)
        colour = _hsv_rgb(hue, rng.uniform(0.75, 1.0), rng.uniform(0.75, 1.0))
        pat, second = _texture(rng, cat.texture, yy, xx)
        fill = colour * (1 - pat[..., None]) + second * pat[..., None]
        fill += 0.03 * rng.standard_normal((size, size, 1)).astype(np.float32)
        img[mask] = fill[mask]
        label[mask] = cat.index
        owner[mask] = k
    objects = [
        ObjectSpec(cat, shapes[k], owner == k) for k, cat in enumerate(cats) if (owner == k).any()
    ]
    img *= rng.uniform(0.9, 1.1)  # global brightness jitter
    image = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Scene(image, label, objects, material)


def sample_categories(
    rng: np.random.Generator, pool: list[Category], counts: tuple[float, ...]
) -> list[Category]:
    """Draws ``n ~ counts`` (probabilities for n = 0, 1, ...) distinct categories from ``pool``."""
    probs = np.asarray(counts, np.float64)
    n = int(rng.choice(len(probs), p=probs / probs.sum()))
    idx = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[int(i)] for i in idx]


CAPTION_TEMPLATES: tuple[str, ...] = (
    'a photo of {}.',
    'a picture of {}.',
    '{}.',
    'an image of {}.',
)


def object_phrase(rng: np.random.Generator, cat: Category, attr_prob: float = 0.0) -> str:
    """A random phrase naming ``cat``, e.g. ``'a red striped object'`` or ``'red stripes'``.

    With probability ``attr_prob`` the phrase names one attribute only (``'a red object'``,
    ``'a striped object'``, ``'stripes'``), which teaches colour and texture as separate words.
    """
    adj, noun = TEXTURES[cat.texture]
    art = 'an' if cat.colour[0] in 'aeiou' else 'a'
    if rng.random() < attr_prob:
        forms = (f'{art} {cat.colour} object', f'a {adj} object', noun)
    else:
        forms = (f'{art} {cat.colour} {adj} object', f'{cat.colour} {noun}',
                 f'{art} {cat.colour} {adj} shape')
    return forms[int(rng.integers(len(forms)))]


def caption(
    rng: np.random.Generator, scene: Scene, background_prob: float = 0.5, attr_prob: float = 0.0
) -> str:
    """A caption naming every visible object (random order), sometimes the background material.

    A scene with no objects is always captioned by its background material, e.g. ``'gravel.'``.
    """
    phrases = [object_phrase(rng, o.category, attr_prob) for o in scene.objects]
    order = rng.permutation(len(phrases))
    body = ' and '.join(phrases[int(i)] for i in order)
    if not body:
        body = f'{scene.background} background' if rng.random() < 0.5 else scene.background
    elif rng.random() < background_prob:
        body = f'{body} on {scene.background}'
    template = CAPTION_TEMPLATES[int(rng.integers(len(CAPTION_TEMPLATES)))]
    return template.format(body)


def world_vocabulary() -> list[str]:
    """Every string the world's captions and class files can contain (for the token subset)."""
    words = ['a', 'object', 'shape', 'and', 'on', 'background', 'photo', 'picture', 'image']
    words += ['of', 'an', '.', *COLOURS, *BACKGROUNDS]
    for adj, noun in TEXTURES.values():
        words += [adj, noun]
    texts = [t.format(w) for t in CAPTION_TEMPLATES for w in words]
    texts += [s for c in categories() for s in c.synonyms]
    return texts
