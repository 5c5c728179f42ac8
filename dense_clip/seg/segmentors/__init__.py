"""Segmentors registered in mmseg's model registry."""

from .open_vocab_segmentor import OpenVocabSegmentor, WindowScores
from .trident_segmentor import TridentSegmentor

__all__ = ['OpenVocabSegmentor', 'TridentSegmentor', 'WindowScores']
