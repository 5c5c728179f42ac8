"""Single-image open-vocabulary segmentation from a config, outside the Runner."""

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

__all__ = ['SegmentationInferencer', 'SegmentationResult']


@dataclass
class SegmentationResult:
    """One image's prediction.

    Attributes:
        image_rgb: ``(H, W, 3)`` uint8 RGB, the image as loaded.
        labels: ``(H, W)`` int64 class indices into ``class_names``.
        probs: ``(C, H, W)`` float32 class probabilities.
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
        self.model = MODELS.build(model_cfg)
        self.model.init_weights()
        self.model.to(device).eval()
        steps = [copy.deepcopy(s) for s in cfg.test_pipeline if 'Annotations' not in s['type']]
        steps[0] = dict(type='LoadImageChecked')  # clear errors, documented conversions
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
