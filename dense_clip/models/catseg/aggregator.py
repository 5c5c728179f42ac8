"""CAT-Seg's cost aggregator: cost volume, embedding, spatial/class aggregation, decoder.

Cho et al., "CAT-Seg: Cost Aggregation for Open-Vocabulary Semantic Segmentation", CVPR 2024.
Details from the authors' code (KU-CVLAB/CAT-Seg ``cat_seg/modeling/transformer/model.py``,
``Aggregator``):

* cost: cosine similarity of the L2-normalised dense image features (B, D, h, w) and every
  template's L2-normalised class embedding (B, K classes, P templates, D), kept per template:
  (B, P, K, h, w);
* a 7x7 conv (P -> hidden channels) embeds each class's cost;
* appearance guidance: 3x3 conv + ReLU of the (un-normalised) dense image features; text
  guidance: Linear + ReLU of each class's template-averaged, re-normalised embedding;
* N layers of spatial (``spatial.py``) then class (``class_aggregation.py``) aggregation, then the
  upsampling decoder (``decoder.py``): one logit per class at 4x the feature grid;
* more than ``pad_len`` (256) classes: the classes with the highest cost anywhere (max over
  templates and pixels) are kept, the others get logit -100 (``sorted=False`` top-k in the
  authors' code; the kept indices are sorted here so the order is deterministic).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .class_aggregation import ClassAggregation
from .decoder import UpsampleDecoder
from .spatial import SpatialAggregation

__all__ = ['AggregatorLayer', 'CATSegAggregator', 'build_aggregator', 'cost_volume',
           'select_top_classes']

#: Logit given to the classes left out by the top-k selection (the authors' value).
DROPPED_LOGIT = -100.0


def cost_volume(image_feats: Tensor, text_feats: Tensor) -> Tensor:
    """Cosine similarities between dense image features and per-template class embeddings.

    Args:
        image_feats: (B, D, h, w) dense features (any norm).
        text_feats: (B, K, P, D) class embeddings, K classes x P templates (any norm).

    Returns:
        (B, P, K, h, w) cosine similarities in [-1, 1].
    """
    image = F.normalize(image_feats, dim=1)
    text = F.normalize(text_feats, dim=-1)
    return torch.einsum('bdhw,bkpd->bpkhw', image, text)


def select_top_classes(cost: Tensor, k: int) -> Tensor:
    """The ``k`` classes whose cost peaks highest (over templates and pixels), per image.

    Args:
        cost: (B, P, K, h, w) cost volume.
        k: how many classes to keep (< K).

    Returns:
        (B, k) int64 class indices, ascending.
    """
    peak = cost.transpose(1, 2).flatten(2).amax(dim=-1)  # (B, K)
    return peak.topk(k, dim=-1, sorted=False).indices.sort(dim=-1).values


class AggregatorLayer(nn.Module):
    """One aggregation layer: spatial aggregation, then class aggregation.

    Args:
        spatial: the guided Swin pair.
        classes: the class transformer.
    """

    def __init__(self, spatial: SpatialAggregation, classes: ClassAggregation) -> None:
        super().__init__()
        self.spatial = spatial
        self.classes = classes

    def forward(self, x: Tensor, appearance: Tensor | None, text: Tensor | None,
                pooling_size: Sequence[int] | None = None) -> Tensor:
        """(B, C, K, h, w) -> (B, C, K, h, w); guidance (B, Ga, h, w) and (B, K, Gt)."""
        return self.classes(self.spatial(x, appearance), text, pooling_size)


class CATSegAggregator(nn.Module):
    """The cost aggregator from the cost volume to per-class logits.

    Args:
        layers: the aggregation layers (each spatial then class aggregation).
        decoder: the upsampling decoder.
        num_templates: P, channels of the cost volume.
        hidden_dim: channels of the cost embedding.
        appearance_dim: D of the dense image features used as appearance guidance (0: none).
        appearance_proj_dim: channels of the projected appearance guidance.
        text_dim: D of the class embeddings used as text guidance (0: none).
        text_proj_dim: channels of the projected text guidance.
        pad_len: class-token length of the class aggregation; larger vocabularies keep their
            top ``pad_len`` classes (0: no limit).
    """

    def __init__(self, layers: Sequence[AggregatorLayer], decoder: UpsampleDecoder, *,
                 num_templates: int, hidden_dim: int, appearance_dim: int,
                 appearance_proj_dim: int, text_dim: int, text_proj_dim: int,
                 pad_len: int = 256) -> None:
        super().__init__()
        self.num_templates = num_templates
        self.pad_len = int(pad_len)
        self.cost_embed = nn.Conv2d(num_templates, hidden_dim, kernel_size=7, padding=3)
        self.appearance_proj = nn.Sequential(
            nn.Conv2d(appearance_dim, appearance_proj_dim, kernel_size=3, padding=1), nn.ReLU()
        ) if appearance_dim > 0 else None
        self.text_proj = nn.Sequential(nn.Linear(text_dim, text_proj_dim), nn.ReLU()) \
            if text_dim > 0 else None
        self.layers = nn.ModuleList(layers)
        self.decoder = decoder

    def embed_cost(self, cost: Tensor) -> Tensor:
        """(B, P, K, h, w) cost -> (B, hidden, K, h, w) embedding (7x7 conv per class)."""
        b, p, k, h, w = cost.shape
        y = self.cost_embed(cost.transpose(1, 2).reshape(b * k, p, h, w))
        return y.reshape(b, k, -1, h, w).transpose(1, 2)

    def text_guidance(self, text_feats: Tensor) -> Tensor | None:
        """(B, K, P, D) embeddings -> (B, K, Gt): template mean, re-normalised, projected."""
        if self.text_proj is None:
            return None
        return self.text_proj(F.normalize(text_feats.mean(dim=-2), dim=-1))

    def forward(self, image_feats: Tensor, text_feats: Tensor,
                decoder_guidance: Sequence[Tensor | None] = (),
                pooling_size: Sequence[int] | None = None) -> Tensor:
        """Per-class logits.

        Args:
            image_feats: (B, D, h, w) dense CLIP features (joint space, not normalised).
            text_feats: (B, K, P, D) or (K, P, D) class embeddings (L2-normalised per template).
            decoder_guidance: raw guidance of each decoder stage, (B, g_i, 2^(i+1) h,
                2^(i+1) w).
            pooling_size: class-aggregation pooling for this call (None: the layers' own).

        Returns:
            (B, K, 4h, 4w) float logits (for two decoder stages); classes outside the top
            ``pad_len`` get -100.
        """
        b = image_feats.shape[0]
        if text_feats.dim() == 3:
            text_feats = text_feats.unsqueeze(0)
        if text_feats.shape[2] != self.num_templates:
            raise ValueError(f'the aggregator was built for {self.num_templates} templates, got '
                             f'text embeddings with {text_feats.shape[2]}')
        text_feats = text_feats.expand(b, -1, -1, -1)
        num_classes = text_feats.shape[1]
        cost = cost_volume(image_feats, text_feats)
        kept = None
        if 0 < self.pad_len < num_classes:
            kept = select_top_classes(cost, self.pad_len)  # (B, k)
            text_feats = torch.gather(
                text_feats, 1, kept[:, :, None, None].expand(-1, -1, *text_feats.shape[2:]))
            cost = cost_volume(image_feats, text_feats)
        x = self.embed_cost(cost)
        appearance = self.appearance_proj(image_feats) if self.appearance_proj else None
        text = self.text_guidance(text_feats)
        for layer in self.layers:
            x = layer(x, appearance, text, pooling_size)
        logits = self.decoder(x, decoder_guidance)
        if kept is None:
            return logits
        out = logits.new_full((b, num_classes, *logits.shape[-2:]), DROPPED_LOGIT)
        return out.scatter(1, kept[:, :, None, None].expand(-1, -1, *logits.shape[-2:]), logits)


def build_aggregator(
    num_templates: int,
    embed_dim: int,
    hidden_dim: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    window_size: int = 12,
    pooling_size: Sequence[int] = (2, 2),
    attention: str = 'linear',
    pad_len: int = 256,
    text_proj_dim: int = 128,
    appearance_proj_dim: int = 128,
    decoder_dims: Sequence[int] = (64, 32),
    decoder_guidance_dims: Sequence[int] = (256, 128),
    decoder_guidance_proj_dims: Sequence[int] = (32, 16),
) -> CATSegAggregator:
    """Builds the aggregator from its sizes (defaults: the authors' ``vitb_384.yaml``).

    Args:
        num_templates: P (1 for the authors' single template).
        embed_dim: D of CLIP's joint space (text and appearance guidance input).
        hidden_dim: ``HIDDEN_DIMS``.
        num_layers: ``NUM_LAYERS``.
        num_heads: ``NUM_HEADS`` (spatial and class attention).
        window_size: ``WINDOW_SIZES``.
        pooling_size: ``POOLING_SIZES`` (training; inference passes its own).
        attention: ``ATTENTION_TYPE`` ('linear' or 'full').
        pad_len: the aggregator's ``pad_len`` (padding length and top-k size).
        text_proj_dim: ``TEXT_GUIDANCE_PROJ_DIM``.
        appearance_proj_dim: ``APPEARANCE_GUIDANCE_PROJ_DIM``.
        decoder_dims: ``DECODER_DIMS``.
        decoder_guidance_dims: ``DECODER_GUIDANCE_DIMS`` (the segmentor's transposed convs'
            output channels).
        decoder_guidance_proj_dims: ``DECODER_GUIDANCE_PROJ_DIMS``.

    Returns:
        The aggregator (random initialisation, PyTorch defaults as the authors').
    """
    layers = [
        AggregatorLayer(
            SpatialAggregation(hidden_dim, appearance_proj_dim, num_heads, window_size),
            ClassAggregation(hidden_dim, text_proj_dim, num_heads, pooling_size, pad_len,
                             attention),
        )
        for _ in range(num_layers)
    ]
    decoder = UpsampleDecoder(hidden_dim, decoder_dims, decoder_guidance_dims,
                              decoder_guidance_proj_dims)
    return CATSegAggregator(layers, decoder, num_templates=num_templates, hidden_dim=hidden_dim,
                            appearance_dim=embed_dim, appearance_proj_dim=appearance_proj_dim,
                            text_dim=embed_dim, text_proj_dim=text_proj_dim, pad_len=pad_len)
