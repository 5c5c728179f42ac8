"""Evaluation-side additions for the segmentation side."""

from .prediction_dump import SegPredictionDump

__all__ = ['SegPredictionDump']
