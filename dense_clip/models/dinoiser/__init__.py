"""CLIP-DINOiser (Wysoczańska et al., ECCV 2024): heads, refinement maths, teachers, checkpoints."""

from .checkpoint import AUTHORS_TO_OURS, heads_state_dict, to_authors, to_dense_clip
from .heads import BackgroundHead, CorrelationHead
from .refine import background_override, pooled_refinement, threshold_correlations
from .teachers import OracleTeacher, ProxyTeacher, build_teacher, found_background

__all__ = [
    'AUTHORS_TO_OURS', 'heads_state_dict', 'to_authors', 'to_dense_clip',
    'BackgroundHead', 'CorrelationHead',
    'background_override', 'pooled_refinement', 'threshold_correlations',
    'OracleTeacher', 'ProxyTeacher', 'build_teacher', 'found_background',
]
