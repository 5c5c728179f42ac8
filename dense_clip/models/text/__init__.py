"""The text side: class vocabularies, prompt templates, the zero-shot text classifier and its
on-disk cache."""

from .cache import (
    TextEmbeddingCache,
    default_cache_dir,
    embed_vocabulary,
    file_identity,
    module_fingerprint,
)
from .classifier import build_text_classifier, merge_synonyms, reduce_synonyms
from .templates import MASKCLIP_TEMPLATES, OPENAI_IMAGENET_TEMPLATES, TEMPLATE_SETS, get_templates
from .text_tower import TextEncoder, text_encoder_for
from .vocabulary import (
    CLASSNAMES_DIR,
    Vocabulary,
    available_classnames,
    build_vocabulary,
    classnames_path,
    image_vocabulary,
)

__all__ = [
    'CLASSNAMES_DIR',
    'MASKCLIP_TEMPLATES',
    'OPENAI_IMAGENET_TEMPLATES',
    'TEMPLATE_SETS',
    'TextEmbeddingCache',
    'TextEncoder',
    'Vocabulary',
    'available_classnames',
    'build_text_classifier',
    'build_vocabulary',
    'classnames_path',
    'default_cache_dir',
    'embed_vocabulary',
    'file_identity',
    'get_templates',
    'image_vocabulary',
    'merge_synonyms',
    'module_fingerprint',
    'reduce_synonyms',
    'text_encoder_for',
]
