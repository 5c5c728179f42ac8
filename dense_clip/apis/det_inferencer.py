"""Single-image detection from an mmdet config, outside the Runner (the demos' box path)."""

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
from PIL import Image, ImageDraw

from dense_clip.engine.config import read_config
from dense_clip.utils.images import read_image_rgb

__all__ = ['DetectionInferencer', 'DetectionResult']


@dataclass
class DetectionResult:
    """One image's boxes.

    Attributes:
        image_rgb: ``(H, W, 3)`` uint8 RGB, the image as loaded.
        boxes: ``(N, 4)`` float32 ``x1, y1, x2, y2`` in image pixels.
        scores: ``(N,)`` float32 in 0-1.
        labels: ``(N,)`` int64 indices into ``class_names``.
        class_names: One name per class.
        score_thr: Boxes below this score are not drawn nor listed.
    """

    image_rgb: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    score_thr: float = 0.3

    def _kept(self) -> np.ndarray:
        return np.flatnonzero(self.scores >= self.score_thr)

    def render(self, alpha: float = 0.55) -> np.ndarray:
        """Image | image with labelled boxes: ``(H, 2W + 4, 3)`` uint8 RGB (``alpha`` unused)."""
        from dense_clip.utils.overlay import palette

        colours = palette(len(self.class_names))
        boxed = Image.fromarray(self.image_rgb)
        draw = ImageDraw.Draw(boxed)
        for i in self._kept():
            colour = tuple(int(c) for c in colours[self.labels[i]])
            x1, y1, x2, y2 = (float(v) for v in self.boxes[i])
            draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
            draw.text((x1 + 2, y1 + 1), f'{self.class_names[self.labels[i]]} '
                      f'{self.scores[i]:.2f}', fill=colour)
        height, width = self.image_rgb.shape[:2]
        sheet = Image.new('RGB', (2 * width + 4, height), (255, 255, 255))
        sheet.paste(Image.fromarray(self.image_rgb), (0, 0))
        sheet.paste(boxed, (width + 4, 0))
        return np.asarray(sheet)

    def legend(self) -> tuple[list[str], list[list]]:
        """``(headers, rows)``: each detected class, its box count and best score."""
        rows: dict[int, list] = {}
        for i in self._kept():
            label = int(self.labels[i])
            row = rows.setdefault(label, [self.class_names[label], 0, 0.0])
            row[1] += 1
            row[2] = max(row[2], round(float(self.scores[i]), 3))
        return ['class', 'boxes', 'best score'], sorted(rows.values(), key=lambda r: -r[2])


class DetectionInferencer:
    """Builds an mmdet config's model once and detects objects in images.

    Args:
        config: Path of a detection config (``default_scope='mmdet'``).
        clip: Optional replacement of ``model.clip`` for dense_clip's CLIP-based detectors.
        device: Torch device to run on.
        score_thr: Minimum score of a drawn box.
    """

    def __init__(self, config: str | Path, clip: dict | None = None, device: str = 'cpu',
                 score_thr: float = 0.3) -> None:
        if not Path(config).is_file():
            raise FileNotFoundError(f'config file not found: {config}')
        cfg = read_config(str(config))
        import_modules_from_strings(**cfg.get('custom_imports', dict(imports=[])))
        init_default_scope(cfg.get('default_scope', 'mmdet'))
        from mmdet.registry import MODELS

        model_cfg = copy.deepcopy(cfg.model)
        if clip is not None:
            if 'clip' not in model_cfg:
                raise ValueError(f'{config}: this detector has no CLIP to replace')
            model_cfg.clip = {k: v for k, v in clip.items() if v is not None}
        self.model = MODELS.build(model_cfg)
        self.model.init_weights()
        self.model.to(device).eval()
        self.score_thr = score_thr
        dataset = cfg.test_dataloader.dataset
        self.class_names = tuple((dataset.get('metainfo') or {}).get('classes', ()))
        steps = [copy.deepcopy(s) for s in cfg.test_pipeline if 'Annotations' not in s['type']]
        self.pipeline = Compose(steps)

    @property
    def open_vocabulary(self) -> bool:
        """Whether the model takes a per-image vocabulary (dense_clip's CLIP detectors)."""
        return hasattr(self.model, 'vocabulary')

    @torch.no_grad()
    def __call__(self, image_path: str | Path, classes: Any = None) -> DetectionResult:
        """Detects objects in one image file.

        Args:
            image_path: Image file.
            classes: A vocabulary for this image (open-vocabulary detectors only); None uses
                the config's classes.

        Raises:
            ValueError: ``classes`` given to a detector with a fixed class list.
        """
        data = self.pipeline(dict(img_path=str(image_path), img_id=0))
        names = self.class_names
        if classes is not None:
            if not self.open_vocabulary:
                raise ValueError('this detector has a fixed class list '
                                 f'({len(names)} classes); leave the classes empty')
            from dense_clip.models.text import Vocabulary

            vocabulary = Vocabulary(classes)
            data['data_samples'].set_metainfo(dict(vocabulary=vocabulary))
            names = tuple(vocabulary.class_names)
        pred = self.model.test_step(pseudo_collate([data]))[0].pred_instances
        # upright as mmdet's OpenCV loader saw it (EXIF orientation); never through mmseg
        image = read_image_rgb(Path(image_path).read_bytes(), str(image_path))
        if not names:
            names = tuple(str(i) for i in range(int(pred.labels.max()) + 1 if len(pred) else 0))
        return DetectionResult(
            image_rgb=image, boxes=pred.bboxes.float().cpu().numpy(),
            scores=pred.scores.float().cpu().numpy(),
            labels=pred.labels.cpu().numpy().astype(np.int64), class_names=names,
            score_thr=self.score_thr)
