"""Region embeddings from one dense CLIP pass: boxes by RoIAlign, masks by mask pooling.

Two recipes, chosen by the image tower, both reading the :class:`DenseOutput` of a single
``CLIPDenseEncoder`` pass over the whole image (so the cost of the CLIP pass does not grow with the
number of regions):

* **ViT** (CLIPSelf / F-ViT, Wu et al., "CLIPSelf: Vision Transformer Distills Itself for
  Open-Vocabulary Dense Prediction", ICLR 2024): the dense joint-space map of the last block's
  value path (the MaskCLIP strategy; positional embeddings resized to the input), each cell
  L2-normalised, then RoIAlign to ``k x k`` and the mean over the ``k x k`` bins (``k = 1`` in
  the authors' code: ``_extract_roi_features_v2`` in ``src/open_clip/transformer.py`` uses
  torchvision ``roi_align(..., (1, 1), 1.0, -1, True)`` on grid coordinates; F-ViT's VLM branch
  uses a 1x1 ``RoIAlign`` at stride 16 with ``aligned=False``, ``F-ViT/models/fvit_head.py``).
  The projection to the joint space is part of the dense map (ln_post and proj per token).
* **ResNet** (RegionCLIP, Zhong et al., "RegionCLIP: Region-based Language-Image Pretraining",
  CVPR 2022): RoIAlign on the C4 map (output of ``layer3``, stride 16) to ``2g x 2g`` (14 for
  RN50, 18 for RN50x4: twice the attention pool's grid ``g``, the ``POOLER_RESOLUTION`` of the
  authors' configs, detectron2 ``ROIAlignV2`` = ``aligned=True``, adaptive sampling), then CLIP's
  own ``layer4`` (res5) and attention pool on each region (microsoft/RegionCLIP,
  ``CLIPRes5ROIHeads`` in ``detectron2/modeling/roi_heads/clip_roi_heads.py``).

Masks use :func:`mask_pool` on the dense map of either tower (any last-block strategy).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmcv.ops import roi_align
from torch import Tensor

from dense_clip.models.clip.dense_encoder import CLIPDenseEncoder, resize_pos_embed
from dense_clip.models.clip.dense_pass import DenseOutput, DenseRequest
from dense_clip.models.clip.ops import attnpool_global

from .boxes import boxes_to_rois, check_boxes
from .mask_pool import mask_pool

__all__ = ['RegionEncoder']

#: ResNet stage whose output is C4 (stem, layer1, layer2, layer3, layer4 = 0..4).
C4_STAGE = 3
C4_STRIDE = 16

ImageSizes = tuple[int, int] | Sequence[tuple[int, int]]


def _sizes(image_size: ImageSizes, count: int) -> list[tuple[int, int]]:
    if len(image_size) == 2 and all(isinstance(v, int) for v in image_size):
        return [tuple(image_size)] * count
    sizes = [tuple(int(v) for v in s) for s in image_size]
    if len(sizes) != count:
        raise ValueError(f'got {len(sizes)} image sizes for {count} images')
    return sizes


class RegionEncoder:
    """Turns boxes (and masks) into CLIP joint-space embeddings from a dense pass.

    Args:
        encoder: the dense encoder whose pass is read; its tower picks the recipe.
        output_size: RoIAlign output ``k``: ViT default 1 (k x k bins are averaged); ResNet
            default twice the attention-pool grid (14 for RN50).
        sampling_ratio: RoIAlign samples per bin side; 0 = adaptive (ceil(roi size / k)).
        aligned: RoIAlign pixel model: True = half-pixel shift (torchvision ``aligned=True``,
            detectron2 ``ROIAlignV2``); False = the legacy model of mmdet's F-ViT config.
        normalize_dense: L2-normalise each dense cell before pooling (ViT; CLIPSelf does).
        chunk: ResNet regions run through ``layer4`` in chunks of this many (memory bound).

    Notes:
        Not an ``nn.Module``: it owns no weights and holds the encoder by reference, so a model
        that registers the encoder does not store its weights twice.

        Boxes are x1, y1, x2, y2 in pixels of the encoder input (after resizing and padding);
        they are checked (:func:`check_boxes`): NaN, zero-area or out-of-image boxes raise.
    """

    def __init__(self, encoder: CLIPDenseEncoder, output_size: int | None = None,
                 sampling_ratio: int = 0, aligned: bool = True, normalize_dense: bool = True,
                 chunk: int = 256) -> None:
        if not isinstance(encoder, CLIPDenseEncoder):
            raise TypeError(f'RegionEncoder needs a CLIPDenseEncoder, got {type(encoder).__name__}')
        self.encoder = encoder
        self.arch = encoder.arch
        if output_size is None:
            output_size = 1 if self.arch == 'vit' else 2 * self._pool_grid()
        if int(output_size) < 1:
            raise ValueError(f'output_size must be >= 1, got {output_size}')
        self.output_size = int(output_size)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)
        self.normalize_dense = bool(normalize_dense)
        self.chunk = max(int(chunk), 1)

    def _pool_grid(self) -> int:
        n = self.encoder.visual.attnpool.positional_embedding.shape[0] - 1
        return int(round(n ** 0.5))

    @property
    def request(self) -> DenseRequest:
        """What the pass must return: the C4 map for a ResNet, nothing extra for a ViT."""
        return DenseRequest(blocks=(C4_STAGE,)) if self.arch == 'resnet' else DenseRequest()

    @property
    def embed_dim(self) -> int:
        return self.encoder.embed_dim

    # ------------------------------------------------------------------------------------------
    def __call__(self, dense: DenseOutput, boxes: Sequence[Tensor], image_size: ImageSizes,
                allow_empty: bool = False) -> Tensor:
        """Embeds the boxes of every image of the pass.

        Args:
            dense: the pass over B images (for a ResNet it must hold block 3, see ``request``).
            boxes: B tensors (N_i, 4) x1, y1, x2, y2 in encoder-input pixels.
            image_size: (H, W) every box must lie in, or one (H, W) per image (the unpadded
                size of each image in a padded batch).
            allow_empty: accept images (and batches) without boxes; otherwise no box at all is
                an error.

        Returns:
            (sum N_i, D) float32 region embeddings, not normalised, boxes in image order.
        """
        batch = dense.dense.shape[0]
        if len(boxes) != batch:
            raise ValueError(f'got boxes for {len(boxes)} images but a dense pass of {batch}')
        sizes = _sizes(image_size, batch)
        checked = [check_boxes(b, size, f'boxes of image {i}', allow_empty=True)
                   for i, (b, size) in enumerate(zip(boxes, sizes))]
        total = sum(b.shape[0] for b in checked)
        if total == 0:
            if not allow_empty:
                raise ValueError('the box list is empty: no image has a box to embed')
            return dense.dense.new_zeros(0, self.embed_dim, dtype=torch.float32)
        return self.encode_rois(dense, boxes_to_rois(checked).to(dense.dense.device))

    def encode_rois(self, dense: DenseOutput, rois: Tensor) -> Tensor:
        """Embeds rois without checking them (for boxes a detector already clipped).

        Args:
            dense: the pass over the images the rois index.
            rois: (N, 5) float: image index, x1, y1, x2, y2 in encoder-input pixels.

        Returns:
            (N, D) float32 region embeddings.
        """
        if rois.shape[0] == 0:
            return dense.dense.new_zeros(0, self.embed_dim, dtype=torch.float32)
        if self.arch == 'resnet':
            return self._resnet_regions(dense, rois)
        return self._vit_regions(dense, rois)

    def encode_masks(self, dense: DenseOutput, masks: Sequence[Tensor],
                     image_size: tuple[int, int]) -> Tensor:
        """Mask-pooled embeddings (sum M_i, D), see :func:`mask_pool` (any tower)."""
        stride = self.encoder.patch_size[0] if self.arch == 'vit' else None
        return mask_pool(dense.dense, masks, image_size, stride=stride,
                         normalize=self.normalize_dense)

    # ------------------------------------------------------------------------------------------
    def _vit_regions(self, dense: DenseOutput, rois: Tensor) -> Tensor:
        feats = dense.dense.float()
        if self.normalize_dense:
            feats = F.normalize(feats, dim=1)
        # mmcv's CPU kernel reads the raw buffer: the encoder's map is a strided view.
        feats = feats.contiguous()
        patch = self.encoder.patch_size[0]
        grid, patch_grid = tuple(dense.grid), tuple(dense.patch_grid)
        scale = 1.0 / patch
        if patch_grid != (0, 0) and grid != patch_grid:  # strategies with their own grid
            if grid[0] * patch_grid[1] != grid[1] * patch_grid[0]:
                raise ValueError(f'cannot map boxes onto a {grid} grid from a {patch_grid} '
                                 'patch grid with one scale')
            scale = grid[0] / (patch_grid[0] * patch)
        k = self.output_size
        pooled = roi_align(feats, rois.to(feats.dtype), (k, k), scale, self.sampling_ratio,
                           'avg', self.aligned)
        return pooled.mean(dim=(2, 3))

    def _resnet_regions(self, dense: DenseOutput, rois: Tensor) -> Tensor:
        if C4_STAGE not in dense.blocks:
            raise ValueError('the dense pass holds no C4 map: run the encoder with '
                             'RegionEncoder.request (blocks=(3,))')
        visual = self.encoder.visual
        c4 = dense.blocks[C4_STAGE]
        k = self.output_size
        pool = visual.attnpool
        native = self._pool_grid()
        c4_map = c4.float().contiguous()  # mmcv's CPU kernel ignores strides
        out = []
        for start in range(0, rois.shape[0], self.chunk):
            part = roi_align(c4_map, rois[start:start + self.chunk].float().contiguous(), (k, k),
                             1.0 / C4_STRIDE, self.sampling_ratio, 'avg', self.aligned)
            c5 = visual.layer4(part.to(c4.dtype))  # (n, C5, k/2, k/2)
            grid = tuple(c5.shape[-2:])
            pos = resize_pos_embed(pool.positional_embedding, (native, native), grid,
                                   self.encoder.pos_embed_interp)
            out.append(attnpool_global(pool, c5.flatten(2).transpose(1, 2), pos).float())
        return torch.cat(out, dim=0)

    def __repr__(self) -> str:
        return (f'RegionEncoder(arch={self.arch}, output_size={self.output_size}, '
                f'sampling_ratio={self.sampling_ratio}, aligned={self.aligned}, '
                f'normalize_dense={self.normalize_dense})')
