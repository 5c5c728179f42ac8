"""Single-image open-vocabulary segmentation from a config, outside the Runner.

Photos of any size work with any config, by one rule: an image is segmented at the model's
working resolution and its labels come back at the image's own size.

* Working resolution: the config's test-pipeline resize when it has one (the benchmark
  configs: short side 336, 448 or 560, long side at most 2048); otherwise (configs for the
  64 px synthetic scenes) a keep-ratio resize to a short side of the CLIP's input size (64 px
  for the embedded CLIP, 224 for ViT-B/16), long side at most 2048.
* Labels: the scores are resized bilinearly to the image's size, as in evaluation. When the
  class names' score maps at that size would take more than :data:`MAX_PROBS_MB` (names x
  pixels x 4 bytes), the decision is streamed over chunks of classes (``test_cfg.probs='auto'``),
  so memory stays bounded and ``SegmentationResult.probs`` holds only the probability of each
  pixel's class. Segmentors without that store (``BOUNDED_PROBS`` unset, e.g. CAT-Seg, whose
  aggregator scores every class together) keep their full probabilities.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from dense_clip.engine.config import apply_dataset_vocabulary, read_config

__all__ = ['MAX_PROBS_MB', 'SegmentationInferencer', 'SegmentationResult', 'working_resize']

# The largest per-name score map (MB) kept at the image's size; larger images stream classes.
MAX_PROBS_MB = 256
# The long-side cap of the working resolution (the benchmark configs' Resize scale).
MAX_LONG_SIDE = 2048


@dataclass
class SegmentationResult:
    """One image's prediction.

    Attributes:
        image_rgb: ``(H, W, 3)`` uint8 RGB, the image as loaded.
        labels: ``(H, W)`` int64 class indices into ``class_names``.
        probs: ``(C, H, W)`` float32 class probabilities, or ``(1, H, W)``, the probability of
            each pixel's class, for images too large for every class's map (module docstring).
        class_names: one name per class.
    """

    image_rgb: np.ndarray
    labels: np.ndarray
    probs: np.ndarray
    class_names: tuple[str, ...]

    def render(self, alpha: float = 0.55) -> np.ndarray:
        """Image | overlay with a legend of pixel shares: ``(H', W', 3)`` uint8 RGB."""
        from dense_clip.utils.overlay import render_overlay

        return render_overlay(self.image_rgb, self.labels, self.class_names, alpha=alpha)

    def legend(self) -> tuple[list[str], list[list]]:
        """``(headers, rows)``: each class with pixels, its share in percent, largest first."""
        from dense_clip.utils.overlay import label_shares

        shares = label_shares(self.labels, len(self.class_names))
        order = np.argsort(-shares, kind='stable')
        rows = [[self.class_names[i], round(100 * float(shares[i]), 2)] for i in order
                if shares[i] > 0]
        return ['class', 'pixels (%)'], rows


def working_resize(model: Any) -> dict:
    """The resize step for configs without one: short side = the CLIP's input size.

    Args:
        model: The segmentor (its ``encoder.visual.image_size`` is read; 224 if absent).

    Returns:
        An mmseg ``Resize`` config (keep ratio; long side at most :data:`MAX_LONG_SIDE`).
    """
    size = getattr(getattr(getattr(model, 'encoder', None), 'visual', None), 'image_size', 224)
    side = int(min(size) if isinstance(size, (tuple, list)) else size)
    return dict(type='Resize', scale=(MAX_LONG_SIDE, side), keep_ratio=True)


class SegmentationInferencer:
    """Builds a segmentation config's model once and segments images with any vocabulary.

    Args:
        config: path of a dense_clip segmentation config (its ``model`` must be an
            open-vocabulary segmentor).
        clip: optional replacement of ``model.clip`` (e.g. ``dict(model_name='ViT-B-16',
            pretrained='openai')``).
        device: torch device to run on.
    """

    def __init__(self, config: str | Path, clip: dict | None = None,
                 device: str = 'cpu') -> None:
        if not Path(config).is_file():
            raise FileNotFoundError(f'config file not found: {config}')
        cfg = apply_dataset_vocabulary(read_config(str(config)))
        import_modules_from_strings(**cfg.get('custom_imports', dict(imports=[])))
        init_default_scope(cfg.get('default_scope', 'mmseg'))
        from mmseg.registry import MODELS

        model_cfg = copy.deepcopy(cfg.model)
        if clip is not None:
            model_cfg.clip = {k: v for k, v in clip.items() if v is not None}
        test_cfg = model_cfg.get('test_cfg') or {}
        bounded = getattr(MODELS.get(model_cfg.type), 'BOUNDED_PROBS', False)
        if bounded and test_cfg.get('probs', 'full') == 'full':
            model_cfg.test_cfg = dict(test_cfg, probs='auto', max_probs_mb=min(
                test_cfg.get('max_probs_mb', MAX_PROBS_MB), MAX_PROBS_MB))
        self.model = MODELS.build(model_cfg)
        self.model.init_weights()
        self.model.to(device).eval()
        steps = [copy.deepcopy(s) for s in cfg.test_pipeline if 'Annotations' not in s['type']]
        steps[0] = dict(type='LoadImageChecked')  # clear errors, documented conversions
        if not any('Resize' in step['type'] for step in steps):
            steps.insert(1, working_resize(self.model))
        self.pipeline = Compose(steps)

    @torch.no_grad()
    def __call__(self, image_path: str | Path, classes: Any = None) -> SegmentationResult:
        """Segments one image file.

        Args:
            image_path: image file (any PIL-readable format; see ``LoadImageChecked``).
            classes: a vocabulary for this image (anything ``build_vocabulary`` takes); None
                uses the config's.
        """
        data = self.pipeline(dict(img_path=str(image_path)))
        vocabulary = self.model.vocabulary_of(None if classes is None
                                              else {'vocabulary': classes})
        data['data_samples'].set_metainfo(dict(vocabulary=vocabulary))
        sample = self.model.test_step(pseudo_collate([data]))[0]
        from dense_clip.seg.transforms import read_image_rgb

        image = read_image_rgb(Path(image_path).read_bytes(), str(image_path))
        return SegmentationResult(
            image_rgb=image,
            labels=sample.pred_sem_seg.data[0].cpu().numpy().astype(np.int64),
            probs=sample.seg_logits.data.float().cpu().numpy(),
            class_names=tuple(vocabulary.class_names),
        )
