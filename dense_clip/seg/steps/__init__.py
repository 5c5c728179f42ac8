"""Segmentation steps: each a small registered class that acts at one stage of a prediction
(see :mod:`.base`). Configs list them in order: ``steps=[dict(type='PAMR', num_iter=10,
dilations=(8, 16)), dict(type='Renormalise')]``."""

from .base import SCORE_SPACES, STAGES, Prediction, SegStep, StepContext, to_name_probs
from .cls_reweight import ClsReweight
from .cluster_vote import ClusterVote, cluster_vote, dbscan
from .key_smoothing import KeySmoothing, key_smoothing
from .mask_classify import MaskClassify
from .pamr import NACLIP_DILATIONS, PAMR, PAPER_DILATIONS
from .prompt_denoise import PromptDenoise, prompt_denoising
from .renormalise import Renormalise
from .sam_refine import SAMRefine
from .trident_refine import TridentSAMRefine

__all__ = [
    'NACLIP_DILATIONS', 'PAPER_DILATIONS', 'SCORE_SPACES', 'STAGES',
    'ClsReweight', 'ClusterVote', 'KeySmoothing', 'MaskClassify', 'PAMR', 'Prediction',
    'PromptDenoise', 'Renormalise', 'SAMRefine', 'SegStep', 'StepContext', 'TridentSAMRefine',
    'cluster_vote', 'dbscan', 'key_smoothing', 'prompt_denoising', 'to_name_probs',
]
