"""Post-processing of dense class maps."""

from .pamr import NACLIP_DILATIONS, PAMR, PAPER_DILATIONS

__all__ = ['NACLIP_DILATIONS', 'PAMR', 'PAPER_DILATIONS']
