"""CLIPSelf: a CLIP ViT distils its own image embeddings of crops into its dense region features.

Wu et al., "CLIPSelf: Vision Transformer Distills Itself for Open-Vocabulary Dense Prediction",
ICLR 2024; the authors' training code (wusize/CLIPSelf ``src/training/clipself.py``,
``main.py``, ``scripts/train_clipself_coco_*_eva_vitb16.sh``):

* student: the CLIP being tuned; its region feature of a box is the 1x1 RoIAlign of its
  L2-normalised value-path dense map (MaskCLIP last block, ``extract_type='v2'``: torchvision
  ``roi_align(..., (1, 1), 1.0, -1, aligned=True)``), i.e. :class:`RegionEncoder`;
* teacher: a frozen copy of the same pretrained CLIP; its target is the image embedding of the
  box's crop (``encode_image``), crops from :class:`~dense_clip.det.datasets.CLIPSelfCrops`;
* loss: 1 - cos(student region feature, teacher crop embedding), averaged over regions;
* trained: every transformer block of the image tower (``--lock-image-unlocked-groups 12`` of a
  12-block ViT in the authors' lock groups); patch embedding, class / positional embeddings,
  ln_pre, ln_post and proj stay frozen, as does the text tower;
* saved weights: alpha x student + (1 - alpha) x teacher, alpha = 0.7 (``--alpha 0.7``,
  ``student_teacher_ensemble``), written as a plain open_clip state dict by
  :class:`~dense_clip.det.hooks.CLIPSelfExportHook` for F-ViT (or any config) to load.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from dense_clip.models.clip import CLIPDenseEncoder
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.region import RegionEncoder
from dense_clip.registry import DET_MODELS
from dense_clip.utils.settings import merge_settings

from .common import clip_data_preprocessor, set_unregistered

__all__ = ['CLIPSelf']

_REGION = dict(output_size=1, sampling_ratio=0, aligned=True, normalize_dense=True)


@DET_MODELS.register_module()
class CLIPSelf(BaseModel):
    """Region self-distillation of a CLIP ViT.

    Args:
        clip: :class:`CLIPSource` settings; student and teacher start from these weights.
        last_block: the student's dense last block (CLIPSelf: 'maskclip').
        pos_embed_interp: 'size' (open_clip's bicubic resize, the authors' code) or 'authors'.
        region: :class:`RegionEncoder` settings of the student's region features.
        trainable_blocks: the last N transformer blocks are trained (None: all).
        ensemble_alpha: weight of the student in the exported weights.
        data_preprocessor: default CLIP's normalisation, RGB, no padding beyond the pipeline.
    """

    def __init__(self, clip: dict, last_block: str | dict = 'maskclip',
                 pos_embed_interp: str = 'size', region: dict | None = None,
                 trainable_blocks: int | None = None, ensemble_alpha: float = 0.7,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None) -> None:
        if isinstance(data_preprocessor, dict) or data_preprocessor is None:
            data_preprocessor = DET_MODELS.build(data_preprocessor
                                                 or clip_data_preprocessor(pad_size_divisor=1))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not 0.0 <= ensemble_alpha <= 1.0:
            raise ValueError(f'ensemble_alpha must be in [0, 1], got {ensemble_alpha}')
        self.source = CLIPSource(**clip)
        student, self.tokenizer = self.source.build()
        self.student = student
        self.teacher = copy.deepcopy(student).requires_grad_(False).eval()
        encoder = CLIPDenseEncoder(student, last_block=last_block,
                                   pos_embed_interp=pos_embed_interp, vanilla_cls=False)
        if encoder.arch != 'vit':
            raise ValueError(f'CLIPSelf trains a ViT CLIP, got a {encoder.arch} tower')
        set_unregistered(self, 'encoder', encoder)
        self.region = RegionEncoder(encoder, **merge_settings('region', region, _REGION))
        blocks = student.visual.transformer.resblocks
        n = len(blocks) if trainable_blocks is None else int(trainable_blocks)
        if not 1 <= n <= len(blocks):
            raise ValueError(f'trainable_blocks must be in 1..{len(blocks)}, got {n}')
        student.requires_grad_(False)
        for block in blocks[len(blocks) - n:]:
            block.requires_grad_(True)
        self.ensemble_alpha = float(ensemble_alpha)
        self.crop_size = int(student.visual.image_size[0]
                             if isinstance(student.visual.image_size, (tuple, list))
                             else student.visual.image_size)

    def init_weights(self) -> None:
        """Loads the pretrained CLIP into the student and copies it into the teacher."""
        self.source.load_weights(self.student)
        self.teacher.load_state_dict(self.student.state_dict())

    def train(self, mode: bool = True) -> CLIPSelf:
        super().train(mode)
        self.teacher.eval()
        return self

    # ------------------------------------------------------------------ the two sides
    def student_regions(self, inputs: Tensor, boxes: list[Tensor],
                        sizes: list[tuple[int, int]]) -> Tensor:
        """(K, D) student region features of the boxes (with gradient in training)."""
        dense = self.encoder(inputs.to(next(self.student.parameters()).dtype))
        return self.region(dense, boxes, sizes)

    @torch.no_grad()
    def teacher_embeddings(self, crops: Tensor) -> Tensor:
        """(K, D) teacher image embeddings of (K, 3, s, s) uint8 crops (channels as loaded)."""
        pre = self.data_preprocessor
        x = crops.float().to(pre.mean.device)
        if getattr(pre, '_channel_conversion', False):
            x = x[:, [2, 1, 0]]
        x = (x - pre.mean) / pre.std
        return self.teacher.encode_image(x.to(next(self.teacher.parameters()).dtype)).float()

    def _batch(self, data_samples) -> tuple[list[Tensor], list[tuple[int, int]], Tensor]:
        boxes, sizes, crops = [], [], []
        for sample in data_samples:
            bboxes = sample.gt_instances.bboxes
            boxes.append((bboxes.tensor if hasattr(bboxes, 'tensor') else bboxes).float())
            sizes.append(tuple(sample.metainfo['img_shape'][:2]))
            crops.append(sample.crops)
        return boxes, sizes, torch.cat(crops)

    def loss(self, inputs: Tensor, data_samples) -> dict[str, Tensor]:
        boxes, sizes, crops = self._batch(data_samples)
        student = F.normalize(self.student_regions(inputs, boxes, sizes), dim=-1)
        teacher = F.normalize(self.teacher_embeddings(crops.to(inputs.device)), dim=-1)
        return dict(loss_cosine=1.0 - (student * teacher).sum(dim=-1).mean())

    def forward(self, inputs: Tensor, data_samples: list | None = None,
                mode: str = 'tensor') -> dict | list | Tensor:
        """mmengine's entry point: 'loss' (training), 'predict' (per-sample cosine of every
        region, in ``data_sample.region_cosine``) or 'tensor' (student region features)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        boxes, sizes, crops = self._batch(data_samples)
        with torch.no_grad():
            student = F.normalize(self.student_regions(inputs, boxes, sizes), dim=-1)
            if mode == 'tensor':
                return student
            if mode != 'predict':
                raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
            teacher = F.normalize(self.teacher_embeddings(crops.to(inputs.device)), dim=-1)
        cosine = (student * teacher).sum(dim=-1).split([len(b) for b in boxes])
        for sample, value in zip(data_samples, cosine):
            sample.region_cosine = value
        return data_samples

    def export_state_dict(self) -> dict[str, Tensor]:
        """The CLIP to save: ensemble_alpha x student + (1 - ensemble_alpha) x teacher (every
        floating-point entry; integer buffers from the student), detached, on the CPU."""
        alpha = self.ensemble_alpha
        teacher = self.teacher.state_dict()
        out = {}
        for key, value in self.student.state_dict().items():
            value = value.detach()
            if value.is_floating_point():
                value = alpha * value.float() + (1 - alpha) * teacher[key].detach().float()
            out[key] = value.cpu().clone()
        return out
