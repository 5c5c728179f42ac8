"""F-ViT's backbone: a frozen CLIP ViT read at four blocks, turned into a simple feature pyramid.

Wu et al., "CLIPSelf: Vision Transformer Distills Itself for Open-Vocabulary Dense Prediction",
ICLR 2024 (F-ViT); settings from the authors' code (wusize/CLIPSelf, ``F-ViT/models/
evaclip_vit.py`` ``EvaCLIPViT``, configs ``F-ViT/configs/ov_coco/*``):

* one pass of the frozen tower (no gradient, eval mode) through :class:`CLIPDenseEncoder` with the
  MaskCLIP last block (the authors' ``forward_without_attn``), positional embeddings resized to
  the input grid; the patch tokens of blocks ``out_indices`` (3, 5, 7, 11 for ViT-B/16; the last
  one is the MaskCLIP block's output) become maps at the patch stride s;
* simple feature pyramid: stride s/4 = ConvTranspose 2x, norm, GELU, ConvTranspose 2x; s/2 = one
  ConvTranspose 2x; s = identity; 2s = 2x2 max pool (the only trained part of the backbone);
* the same pass gives the dense joint-space map (ln_post, proj) that the RoI head's region
  encoder reads for the VLM score; it is returned as the last element, a :class:`DenseOutput`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor, nn

from dense_clip.models.clip import CLIPDenseEncoder, DenseOutput, DenseRequest
from dense_clip.models.clip_source import CLIPSource
from dense_clip.registry import DET_MODELS

from ..common import set_unregistered

__all__ = ['CLIPViTPyramid']


@DET_MODELS.register_module()
class CLIPViTPyramid(BaseModule):
    """Frozen CLIP ViT + simple feature pyramid (F-ViT).

    Args:
        clip: :class:`CLIPSource` settings of a ViT CLIP.
        out_indices: four block indices (Python style) whose patch tokens form the pyramid,
            finest first.
        last_block: strategy of the last block (F-ViT: 'maskclip').
        pos_embed_interp: 'size' (F-ViT's ``rescale_positional_embedding``: bicubic to the grid)
            or 'authors' (the DINO-style variant of the segmentation repositories).
        norm_cfg: norm layer between the two transposed convolutions of the finest level.
        init_cfg: mmengine init config of the pyramid layers.

    Attributes:
        width: channels of every pyramid level (the tower's width).
        embed_dim: joint-space width D of the dense map.
    """

    def __init__(self, clip: dict, out_indices: Sequence[int] = (3, 5, 7, 11),
                 last_block: str | dict = 'maskclip', pos_embed_interp: str = 'size',
                 norm_cfg: dict | None = None, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(out_indices) != 4:
            raise ValueError(f'out_indices must name 4 blocks (finest first), got {out_indices}')
        self.source = CLIPSource(**clip)
        model, self.tokenizer = self.source.build()
        self.clip_model = model.requires_grad_(False)
        encoder = CLIPDenseEncoder(model, last_block=last_block,
                                   pos_embed_interp=pos_embed_interp, vanilla_cls=False)
        if encoder.arch != 'vit':
            raise ValueError(f'CLIPViTPyramid needs a ViT CLIP, got a {encoder.arch} tower')
        depth = encoder.num_blocks
        bad = [i for i in out_indices if not -depth <= i < depth]
        if bad:
            raise ValueError(f'out_indices {bad} out of range for a {depth}-block ViT')
        set_unregistered(self, 'encoder', encoder)
        self.out_indices = tuple(int(i) for i in out_indices)
        self.request = DenseRequest(blocks=self.out_indices)
        width = self.width
        norm = build_norm_layer(norm_cfg, width)[1] if norm_cfg else nn.Identity()
        self.interpolate1 = nn.Sequential(
            nn.ConvTranspose2d(width, width, kernel_size=2, stride=2), norm, nn.GELU(),
            nn.ConvTranspose2d(width, width, kernel_size=2, stride=2))
        self.interpolate2 = nn.ConvTranspose2d(width, width, kernel_size=2, stride=2)
        self.interpolate3 = nn.Identity()
        self.interpolate4 = nn.MaxPool2d(kernel_size=2, stride=2)

    @property
    def width(self) -> int:
        return self.clip_model.visual.conv1.out_channels

    @property
    def embed_dim(self) -> int:
        return self.encoder.embed_dim

    @property
    def patch_size(self) -> int:
        return self.encoder.patch_size[0]

    def init_weights(self) -> None:
        """Initialises the pyramid layers, then loads the CLIP weights named by ``clip``."""
        super().init_weights()
        self.source.load_weights(self.clip_model)

    def train(self, mode: bool = True) -> CLIPViTPyramid:
        super().train(mode)
        self.clip_model.eval()  # frozen
        return self

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, DenseOutput]:
        """Four pyramid levels and the dense pass.

        Args:
            images: (B, 3, H, W) normalised images (H, W multiples of 2x the patch size keep the
                max-pooled level aligned).

        Returns:
            (level strides s/4, s/2, s, 2s: (B, width, ., .) each, the :class:`DenseOutput`).
        """
        with torch.no_grad():
            dtype = next(self.clip_model.parameters()).dtype
            dense = self.encoder(images.to(dtype), request=self.request)
        b = images.shape[0]
        h, w = dense.patch_grid
        levels = []
        for level, index in enumerate(self.out_indices):
            tokens = dense.blocks[index][:, 1:].float()  # drop CLS
            fmap = tokens.transpose(1, 2).reshape(b, -1, h, w).contiguous()
            levels.append(getattr(self, f'interpolate{level + 1}')(fmap))
        return (*levels, dense)
