"""Segmentors registered in mmseg's model registry."""

from .open_vocab_segmentor import OpenVocabSegmentor, WindowScores

__all__ = ['OpenVocabSegmentor', 'WindowScores']
