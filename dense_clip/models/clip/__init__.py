"""CLIP core: loading open_clip / OpenAI checkpoints, the dense encoder, last-block strategies."""

from .architecture import architecture_of, save_clip_safetensors
from .dense_encoder import CLIPDenseEncoder, resize_pos_embed
from .dense_pass import DenseOutput, DenseRequest
from .last_block import (
    LAST_BLOCKS,
    NACLIP,
    SCLIP,
    ClearCLIP,
    CLIPtrase,
    LastBlockStrategy,
    MaskCLIP,
    Vanilla,
    build_last_block,
)
from .loading import (
    build_openai_model,
    infer_openai_config,
    load_clip,
    read_clip_file,
    read_state_dict,
)

__all__ = [
    'CLIPDenseEncoder',
    'DenseOutput',
    'DenseRequest',
    'resize_pos_embed',
    'LAST_BLOCKS',
    'LastBlockStrategy',
    'Vanilla',
    'MaskCLIP',
    'SCLIP',
    'ClearCLIP',
    'NACLIP',
    'CLIPtrase',
    'build_last_block',
    'load_clip',
    'read_clip_file',
    'read_state_dict',
    'architecture_of',
    'save_clip_safetensors',
    'infer_openai_config',
    'build_openai_model',
]
