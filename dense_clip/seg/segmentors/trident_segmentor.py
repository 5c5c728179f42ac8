"""Trident: sub-image CLIP features spliced into one map, aggregated with SAM's affinity.

Shi, Dong, Xu, "Harnessing Vision Foundation Models for High-Performance, Training-Free Open
Vocabulary Segmentation", ICCV 2025 ("splice-then-segment"). Order of operations from the
authors' public code (YuHengsss/Trident ``trident.py`` ``get_trident_seg`` /
``get_windowed_imgs``, ``seg_utils/utils.py`` ``preprocess_image``, ``open_clip/transformer.py``
``custom_attn`` / ``guidance_attn`` / ``get_sam_sim``):

1. The input is resized (bilinear) so both sides are multiples of CLIP's patch, keeping the
   aspect ratio of its longer side, and at least one window in each direction.
2. Windows (mmseg's grid; 336 / 224 by default) go through CLIP with ProxyCLIP's last block
   (DINO ViT-B/16 proxy attention, no residual, no FFN; β times the mean similarity over ALL the
   image's windows, which the authors run as one batch: ``batch_mean=True``); their last-block
   outputs, BEFORE
   ``ln_post`` and the projection, are spliced into one map on the image's patch grid (times the
   proxy/CLIP grid ratio), averaging where windows overlap.
3. SAM sees the image (sides rounded up to multiples of 16); the spliced map is resized
   bilinearly to SAM's valid grid and aggregated with SAM's affinity
   (:func:`~dense_clip.models.sam.affinity.sam_affinity`); Cityscapes images are split into a
   left and a right half, each with its own SAM pass and affinity.
4. ``ln_post``, the projection, cosine with the class embeddings; the SAM-grid scores are resized
   to the original image and the usual softmax / synonym / threshold / labels steps follow.
5. Optionally (the authors' ``--sam_refine``), the labels-stage step
   :class:`~dense_clip.seg.steps.TridentSAMRefine` prompts SAM with the coarse map's regions.

Departures (all in ``configs/_base_/protocols.md``, "Trident"): SAM sees the pipeline's
resized, un-normalised input rather than the image file re-read at its original size; fp32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from dense_clip.models.clip import DenseOutput, DenseRequest
from dense_clip.models.sam import SAMModel
from dense_clip.models.sam.affinity import sam_affinity, sam_last_attention
from dense_clip.registry import SEG_MODELS

from ..heads import CosineHead
from ..inference import window_grid
from ..steps import StepContext
from .open_vocab_segmentor import OpenVocabSegmentor, WindowScores

__all__ = ['TridentSegmentor', 'splice_windows', 'trident_input_size']


def trident_input_size(height: int, width: int, multiple: int, crop: tuple[int, int]
                       ) -> tuple[int, int]:
    """The authors' ``preprocess_image`` size: sides multiples of ``multiple``, >= the crop.

    Unchanged when both sides already are multiples. Otherwise the longer side is rounded up to
    a multiple, the shorter scaled by the same factor (truncated) and rounded up, and each side
    is raised to at least the crop.
    """
    if height % multiple == 0 and width % multiple == 0:
        return height, width
    longer = max(height, width)
    target = math.ceil(longer / multiple) * multiple
    new_h, new_w = int(height * target / longer), int(width * target / longer)
    new_h, new_w = (math.ceil(new_h / multiple) * multiple, math.ceil(new_w / multiple) * multiple)
    return max(new_h, crop[0]), max(new_w, crop[1])


def splice_windows(maps: Tensor, boxes: list[tuple[int, int, int, int]], patch: tuple[int, int],
                   size: tuple[int, int], ratio: int) -> Tensor:
    """Splices per-window feature maps into one map, averaging overlaps.

    Args:
        maps: (N, C, h_i * ratio, w_i * ratio) window maps (h_i = window height // patch).
        boxes: the N windows' (y1, y2, x1, x2) in pixels (multiples of the patch).
        patch: CLIP's (ph, pw).
        size: (H, W) of the image in pixels (multiples of the patch).
        ratio: cells per CLIP patch side.

    Returns:
        (C, H // ph * ratio, W // pw * ratio) spliced map.
    """
    (ph, pw), (height, width) = patch, size
    total = maps.new_zeros(maps.shape[1], height // ph * ratio, width // pw * ratio)
    count = maps.new_zeros(1, *total.shape[1:])
    for (y1, y2, x1, x2), window in zip(boxes, maps):
        if y1 % ph or y2 % ph or x1 % pw or x2 % pw:
            raise ValueError(f'window {(y1, y2, x1, x2)} is not on the {ph}x{pw} patch grid')
        rows = slice(y1 // ph * ratio, y2 // ph * ratio)
        cols = slice(x1 // pw * ratio, x2 // pw * ratio)
        total[:, rows, cols] += window
        count[:, rows, cols] += 1
    return total / count


@SEG_MODELS.register_module()
class TridentSegmentor(OpenVocabSegmentor):
    """Trident's splice-then-aggregate inference (see the module docstring).

    Arguments as :class:`OpenVocabSegmentor` (``encoder`` should be ProxyCLIP's last block with
    a DINO proxy; ``test_cfg`` crop and stride are Trident's windows), plus:

    Args:
        sam: :class:`SAMModel` arguments (``model_type``, ``checkpoint``).
        cos_fac: SAM value-similarity threshold factor (authors: 1.2; VOC20 0.0; Cityscapes 3.0).
        refine_neg_cos: False turns negative thresholds into 0.6 (authors: ADE-150, Cityscapes).
        split_halves: one SAM pass per image half, left and right (authors: Cityscapes).
    """

    def __init__(self, sam: dict | None = None, cos_fac: float = 1.2,
                 refine_neg_cos: bool = True, split_halves: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.head, CosineHead):
            raise ValueError(f'Trident scores with cosine similarity; got head '
                             f'{type(self.head).__name__}')
        window_steps = [type(s).__name__ for s in self.steps if s.stage == 'window']
        if window_steps:
            raise ValueError(f'Trident has no per-window scores for window steps {window_steps}')
        if self.encoder.arch != 'vit':
            raise ValueError('Trident splices ViT last-block tokens: it needs a ViT CLIP')
        self.sam = SAMModel(**(sam or {}))
        for step in self.steps:  # the refinement prompts this SAM unless it has its own
            if hasattr(step, 'share_sam'):
                step.share_sam(self.sam)
        self.cos_fac = float(cos_fac)
        self.refine_neg_cos = bool(refine_neg_cos)
        self.split_halves = bool(split_halves)

    def init_weights(self) -> None:
        super().init_weights()
        self.sam.init_weights()

    # ----------------------------------------------------------------- the spliced map
    def spliced_tokens(self, image: Tensor) -> Tensor:
        """Last-block outputs of every window spliced into (C, H/p * r, W/p * r)."""
        patch = self.encoder.patch_size
        size = tuple(image.shape[-2:])
        boxes = window_grid(*size, self.crop_size, self.stride)
        dtype = next(self.clip_model.parameters()).dtype
        # With ProxyCLIP's batch mean (the authors' variant) every window of the image must be
        # in the one batch the mean is taken over.
        batch = len(boxes) if getattr(self.encoder.last_block, 'batch_mean', False) \
            else self.windows_per_batch
        maps = []
        for start in range(0, len(boxes), batch):
            chunk = boxes[start:start + batch]
            windows = torch.cat([image[..., y1:y2, x1:x2] for y1, y2, x1, x2 in chunk])
            out = self.encoder(windows.to(dtype), request=DenseRequest(blocks=(-1,)))
            tokens = out.blocks[-1][:, 1:].float()  # (n, h*w, C), before ln_post
            maps.append(tokens.transpose(1, 2).reshape(len(chunk), -1, *out.grid))
        maps = torch.cat(maps)
        y1, y2, x1, x2 = boxes[0]  # all windows have one size (the image's, if smaller)
        clip_grid = ((y2 - y1) // patch[0], (x2 - x1) // patch[1])
        ratio = max(1, round(maps.shape[-2] / clip_grid[0]))
        target = (clip_grid[0] * ratio, clip_grid[1] * ratio)
        if tuple(maps.shape[-2:]) != target:
            maps = F.interpolate(maps, size=target, mode='bilinear', align_corners=False)
        return splice_windows(maps, boxes, patch, size, ratio)

    def _rgb_for_sam(self, image: Tensor) -> Tensor:
        height, width = image.shape[-2:]
        size = (math.ceil(height / 16) * 16, math.ceil(width / 16) * 16)
        return self._rgb_image(image[0], size)

    def aggregate(self, spliced: Tensor, rgb: Tensor) -> Tensor:
        """SAM-affinity aggregation of the spliced map -> (C, h, w) on SAM's valid grid."""
        sam = self.sam.ready()
        halves = [rgb] if not self.split_halves else \
            [rgb[:, :rgb.shape[1] // 2], rgb[:, rgb.shape[1] // 2:]]
        parts = [spliced] if not self.split_halves else \
            [spliced[..., :spliced.shape[-1] // 2], spliced[..., spliced.shape[-1] // 2:]]
        outputs = []
        for part, half in zip(parts, halves):
            attention = sam_last_attention(sam, half.cpu().numpy())
            weights = sam_affinity(attention, self.cos_fac, self.refine_neg_cos).to(part)
            grid = attention.grid
            resized = F.interpolate(part[None], size=grid, mode='bilinear',
                                    align_corners=False)[0]  # (C, h, w)
            mixed = weights @ resized.flatten(1).T  # (h*w, C)
            outputs.append(mixed.T.reshape(-1, *grid))
        return torch.cat(outputs, dim=-1)

    def image_scores(self, image: Tensor, ctx: StepContext) -> WindowScores:
        """Cosine scores (1, S, h, w) of one normalised image on SAM's valid grid.

        The caller resizes them to the output size, as the authors resize their SAM-grid logits
        straight to the original image.
        """
        size = trident_input_size(*image.shape[-2:], self.encoder.patch_size[0], self.crop_size)
        rgb = self._rgb_for_sam(image)
        if tuple(image.shape[-2:]) != size:
            image = F.interpolate(image.float(), size=size, mode='bilinear', align_corners=False)
        tokens = self.aggregate(self.spliced_tokens(image), rgb)  # (C, h, w)
        visual = self.encoder.visual
        dtype = visual.ln_post.weight.dtype
        dense = self.encoder._project(visual.ln_post(tokens.flatten(1).T.to(dtype))).float()
        grid = tuple(tokens.shape[-2:])
        dense = dense.T.reshape(1, -1, *grid)
        scores = torch.einsum('bdhw,sd->bshw', F.normalize(dense, dim=1), ctx.text.to(dense))
        return WindowScores(scores, 'cosine', DenseOutput(dense=dense, cls=None, grid=grid,
                                                          patch_grid=grid))

    def extra_repr(self) -> str:
        return (f'cos_fac={self.cos_fac}, refine_neg_cos={self.refine_neg_cos}, '
                f'split_halves={self.split_halves}')
