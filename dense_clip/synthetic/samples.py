"""The bundled sample image of tools/demo.py: one synthetic validation scene, regenerable."""

from __future__ import annotations

from pathlib import Path

from .dataset import png_bytes, segmentation_scene

SAMPLE_IMAGE = Path(__file__).resolve().parents[1] / 'data' / 'samples' / 'synthetic_scene.png'
SAMPLE_SEED, SAMPLE_INDEX = 0, 7


def write_sample(path: str | Path = SAMPLE_IMAGE) -> Path:
    """Writes the sample scene (seed 0, val image 7, 64x64 RGB PNG) to ``path``."""
    scene = segmentation_scene(SAMPLE_SEED, 'val', SAMPLE_INDEX)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(scene.image))
    return path
