"""Segmentors registered in mmseg's model registry."""

from .clip_dinoiser import CLIPDINOiserSegmentor
from .open_vocab_segmentor import OpenVocabSegmentor

__all__ = ['CLIPDINOiserSegmentor', 'OpenVocabSegmentor']
