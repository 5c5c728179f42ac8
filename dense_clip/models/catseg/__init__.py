"""CAT-Seg (Cho et al., CVPR 2024): cost aggregation over dense CLIP features, as plain modules.

Building blocks (each its own file): the guided Swin pair (``spatial``), the class transformer
(``class_aggregation``), the upsampling decoder (``decoder``), the aggregator that joins them to the
cost volume (``aggregator``), the authors' dense last block (``last_block``), the q/v fine-tuning
rule (``finetune``), the text side (``text``), CLIP + aggregator (``catseg_model``) and the
conversion of the authors' checkpoints (``convert``). The mmseg segmentor is
``dense_clip.seg.catseg.CATSegSegmentor``.
"""

from .aggregator import (
    AggregatorLayer,
    CATSegAggregator,
    build_aggregator,
    cost_volume,
    select_top_classes,
)
from .catseg_model import CATSegModel
from .class_aggregation import ClassAggregation, full_attention, linear_attention
from .decoder import GuidedUpBlock, UpsampleDecoder
from .finetune import FINETUNE_MODES, apply_finetune, qv_row_mask
from .last_block import CATSegDense
from .spatial import GuidedSwinBlock, GuidedWindowAttention, SpatialAggregation
from .text import SYNONYM_MODES, class_names_for, encode_prompts

__all__ = [
    'AggregatorLayer',
    'CATSegAggregator',
    'CATSegDense',
    'CATSegModel',
    'ClassAggregation',
    'FINETUNE_MODES',
    'GuidedSwinBlock',
    'GuidedUpBlock',
    'GuidedWindowAttention',
    'SYNONYM_MODES',
    'SpatialAggregation',
    'UpsampleDecoder',
    'apply_finetune',
    'build_aggregator',
    'class_names_for',
    'cost_volume',
    'encode_prompts',
    'full_attention',
    'linear_attention',
    'qv_row_mask',
    'select_top_classes',
]
