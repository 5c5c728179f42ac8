"""RoI heads: F-ViT's text-embedding classifier, box head and VLM-fusing RoI head."""

from .fvit_bbox_head import FViTBBoxHead
from .fvit_roi_head import FViTRoIHead
from .text_embedding_classifier import BACKGROUND_EMBEDDINGS, TextEmbeddingClassifier

__all__ = ['BACKGROUND_EMBEDDINGS', 'FViTBBoxHead', 'FViTRoIHead', 'TextEmbeddingClassifier']
