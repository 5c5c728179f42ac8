"""SAM-derived affinity for Trident's global aggregation: the attention of SAM's last image-encoder
block, kept where SAM's own value features agree.

Shi, Dong, Xu, "Harnessing Vision Foundation Models for High-Performance, Training-Free Open
Vocabulary Segmentation" (Trident), ICCV 2025. Details from the authors' public code
(YuHengsss/Trident: ``trident.py`` ``get_sam_feat``, ``open_clip/transformer.py``
``get_sam_sim``, and the last-block attention their ``segment_anything/modeling/image_encoder.py``
records):

* SAM sees the image through its predictor's preprocessing (longest side resized to 1024 with
  ``ResizeLongestSide``, normalised, zero-padded to 1024 x 1024); the attention A (per head,
  after the softmax, decomposed relative positions included) and the values v of the LAST
  encoder block (a global-attention block in vit_b / vit_l / vit_h) are kept on the valid,
  unpadded part of the 64 x 64 grid, rows and columns (the softmax itself ran over the padded
  grid);
* per head, S = cosine similarity of the values; the threshold of a row is ``cos_fac`` times
  the mean of S over heads and columns, capped at 0.9, and (``refine_neg_cos=False``) a negative
  threshold becomes 0.6; A is zeroed where S is at or below the threshold, averaged over heads
  and renormalised per row.

The attention is recomputed here from the block's own modules (its norm, qkv projection and
segment_anything's ``add_decomposed_rel_pos``), one head at a time, instead of patching the
encoder to record it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['SAMAttention', 'sam_affinity', 'sam_last_attention']


@dataclass
class SAMAttention:
    """The last SAM block's attention on the valid grid.

    Attributes:
        attn: (heads, N, N) float32 attention weights, N = h * w (rows need not sum to 1: the
            softmax ran over the padded grid).
        values: (heads, N, head_dim) float32 values.
        grid: (h, w) valid grid of the resized image (its side // SAM's patch).
    """

    attn: Tensor
    values: Tensor
    grid: tuple[int, int]


@torch.no_grad()
def sam_last_attention(sam: nn.Module, rgb: np.ndarray) -> SAMAttention:
    """Runs SAM's image encoder up to its last block's attention.

    Args:
        sam: a segment_anything ``Sam`` (weights loaded).
        rgb: (H, W, 3) uint8 RGB image.

    Returns:
        :class:`SAMAttention` on the valid grid.

    Raises:
        ValueError: the last block uses windowed attention (no released SAM does).
    """
    from segment_anything.modeling.image_encoder import add_decomposed_rel_pos
    from segment_anything.utils.transforms import ResizeLongestSide

    encoder = sam.image_encoder
    resized = ResizeLongestSide(encoder.img_size).apply_image(rgb)
    pixels = torch.as_tensor(resized, device=sam.device).permute(2, 0, 1)[None].float()
    x = encoder.patch_embed(sam.preprocess(pixels).to(encoder.patch_embed.proj.weight.dtype))
    if encoder.pos_embed is not None:
        x = x + encoder.pos_embed
    for block in encoder.blocks[:-1]:
        x = block(x)
    last = encoder.blocks[-1]
    if last.window_size > 0:
        raise ValueError('SAM affinity needs a global-attention last block')
    attention = last.attn
    b, h, w, _ = x.shape
    qkv = attention.qkv(last.norm1(x)).reshape(b, h * w, 3, attention.num_heads, -1)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).reshape(3, b * attention.num_heads, h * w, -1).unbind(0)
    patch = encoder.patch_embed.proj.kernel_size[0]
    vh, vw = resized.shape[0] // patch, resized.shape[1] // patch
    rows = []
    for head in range(q.shape[0]):
        logits = (q[head:head + 1] * attention.scale) @ k[head:head + 1].transpose(-2, -1)
        if attention.use_rel_pos:
            logits = add_decomposed_rel_pos(logits, q[head:head + 1], attention.rel_pos_h,
                                            attention.rel_pos_w, (h, w), (h, w))
        weights = logits.softmax(dim=-1).reshape(h, w, h, w)[:vh, :vw, :vh, :vw]
        rows.append(weights.reshape(vh * vw, vh * vw).float())
    values = v.reshape(-1, h, w, v.shape[-1])[:, :vh, :vw].reshape(-1, vh * vw, v.shape[-1])
    return SAMAttention(torch.stack(rows), values.float(), (vh, vw))


def sam_affinity(attention: SAMAttention, cos_fac: float = 1.2,
                 refine_neg_cos: bool = True) -> Tensor:
    """Trident's aggregation weights from SAM's last-block attention.

    Args:
        attention: :func:`sam_last_attention` output.
        cos_fac: multiplies the mean value similarity of a row to give its threshold (authors'
            default 1.2; 0 keeps every positive similarity, 3.0 on Cityscapes).
        refine_neg_cos: False: a negative threshold becomes 0.6 (authors' ADE-150 and
            Cityscapes configs).

    Returns:
        (N, N) float32 row-stochastic weights.
    """
    values = F.normalize(attention.values, dim=-1)  # (heads, N, d)
    heads = values.shape[0]
    # threshold per row: cos_fac x mean over heads and columns of the value similarity
    row_means = torch.stack([(values[i] @ values[i].T).mean(dim=-1) for i in range(heads)])
    thresh = cos_fac * row_means.mean(dim=0, keepdim=True).T  # (N, 1)
    if not refine_neg_cos:
        thresh = torch.where(thresh < 0, torch.full_like(thresh, 0.6), thresh)
    thresh = thresh.clamp(max=0.9)
    kept = torch.zeros_like(attention.attn[0])
    for i in range(heads):
        similarity = values[i] @ values[i].T
        kept += torch.where(similarity > thresh, attention.attn[i], 0.0)
    kept /= heads
    return kept / kept.sum(dim=-1, keepdim=True)
