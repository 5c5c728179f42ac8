"""Zero-shot classification of given boxes in one image, from a detection config, outside the
Runner (used by tools/classify_regions.py)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

__all__ = ['RegionInferencer', 'RegionResult']


@dataclass
class RegionResult:
    """The classified boxes of one image.

    Attributes:
        boxes: (N, 4) float32 x1, y1, x2, y2 in image pixels.
        labels: (N,) int64 class index, -1 below the score threshold.
        scores: (N,) float32 probability of the best class.
        probs: (N, C) float32 per-class probabilities.
        class_names: one name per class.
    """

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    probs: np.ndarray
    class_names: tuple[str, ...]


class RegionInferencer:
    """Builds a zero-shot region detector from a config once and classifies boxes of images.

    Args:
        config: a detection config whose model is a ``ZeroShotRegionDetector``.
        clip: optional replacement of ``model.clip``.
        score_thresh: boxes whose best probability is below it get label -1.
        device: torch device.
    """

    def __init__(self, config: str | Path, clip: dict | None = None, score_thresh: float = 0.0,
                 device: str = 'cpu') -> None:
        if not Path(config).is_file():
            raise FileNotFoundError(f'config file not found: {config}')
        cfg = Config.fromfile(str(config))
        if cfg.get('default_scope') != 'mmdet' or cfg.model.get('type') != \
                'ZeroShotRegionDetector':
            raise ValueError(f'{config}: expected a detection config of a '
                             f"ZeroShotRegionDetector, got model type {cfg.model.get('type')!r} "
                             f"(default_scope {cfg.get('default_scope')!r})")
        import_modules_from_strings(**cfg.get('custom_imports', dict(imports=[])))
        init_default_scope('mmdet')
        from dense_clip.registry import DET_MODELS

        model_cfg = copy.deepcopy(cfg.model)
        if clip is not None:
            model_cfg.clip = {k: v for k, v in clip.items() if v is not None}
        model_cfg.setdefault('classifier', {})['score_thresh'] = score_thresh
        self.cfg = cfg
        self.model = DET_MODELS.build(model_cfg).to(device).eval()
        self.model.init_weights()
        self.device = device

    @torch.no_grad()
    def __call__(self, image_rgb: np.ndarray, boxes: np.ndarray | torch.Tensor,
                 classes: Any) -> RegionResult:
        """Classifies boxes of one image.

        Args:
            image_rgb: (H, W, 3) uint8 RGB.
            boxes: (N, 4) x1, y1, x2, y2 pixels; checked (empty, NaN, zero-area and
                out-of-image boxes raise ValueError naming the box).
            classes: the classes (anything ``build_vocabulary`` takes).
        """
        from dense_clip.det.text import DetectionText
        from dense_clip.models.region import check_boxes

        model = self.model
        height, width = image_rgb.shape[:2]
        boxes = check_boxes(torch.as_tensor(np.asarray(boxes, np.float32)), (height, width),
                            '--boxes')
        text = DetectionText(vocabulary=classes, templates=model.text.templates,
                             prompt_style=model.text.prompt_style, cache_dir=False)
        pre = model.data_preprocessor
        image = torch.from_numpy(np.array(image_rgb, np.float32)).permute(2, 0, 1)
        image = ((image.to(pre.mean.device) - pre.mean) / pre.std)[None]
        divisor = max(getattr(pre, 'pad_size_divisor', 1), 1)
        image = F.pad(image, (0, -width % divisor, 0, -height % divisor))
        dense = model.extract_feat(image)
        embeddings = model.region(dense, [boxes.to(image.device)], (height, width))
        emb_text = text.embeddings(model.clip_model, model.tokenizer)
        pred = model.classifier(embeddings, emb_text, text.vocabulary)
        return RegionResult(boxes=boxes.numpy(), labels=pred.labels.cpu().numpy(),
                            scores=pred.scores.cpu().numpy(), probs=pred.probs.cpu().numpy(),
                            class_names=tuple(text.vocabulary.class_names))
