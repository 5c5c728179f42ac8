"""CAT-Seg in mmseg (Cho et al., CVPR 2024): the segmentor, its loss and its inference views."""

from .catseg_segmentor import CATSegSegmentor
from .loss import catseg_bce_loss
from .views import slide_probabilities, whole_probabilities

__all__ = ['CATSegSegmentor', 'catseg_bce_loss', 'slide_probabilities', 'whole_probabilities']
