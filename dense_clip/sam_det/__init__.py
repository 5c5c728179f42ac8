"""Segment Anything meets dense CLIP on the detection side (mmdet 3.x): open-vocabulary
instance segmentation (SAM masks classified by mask-pooled dense CLIP features) and panoptic
segmentation (things from those instances, stuff from the semantic map). Detection configs
activate it with ``custom_imports = dict(imports=['dense_clip.sam_det'])``; nothing here imports
mmseg."""

from .lvis_metric import LVISMetricNumpy2, numpy_float_alias
from .sam_instance_segmentor import SAMInstanceSegmentor
from .sam_panoptic_segmentor import SAMPanopticSegmentor

__all__ = ['LVISMetricNumpy2', 'SAMInstanceSegmentor', 'SAMPanopticSegmentor',
           'numpy_float_alias']
