"""Open-vocabulary panoptic segmentation: things from classified SAM masks, stuff from the
semantic map, fused with mmdet's heuristic (Panoptic FPN's) fusion head.

Things and stuff as in Kirillov et al., "Panoptic Segmentation", CVPR 2019, and the merge of
Panoptic FPN (mmdet ``HeuristicFusionHead``, used as is): instances are laid best first, one
whose mask is more than half covered by better ones is dropped; the remaining pixels take the
semantic map's stuff class, and stuff segments under ``stuff_area_limit`` pixels (4096 in mmdet's
Panoptic FPN config) become void. The semantic map is mask voting: every SAM mask classified over
all classes (things and stuff) and painted, best first, over the dense per-pixel arg-max. The
result is mmdet's ``pred_panoptic_seg`` (class + instance id x ``INSTANCE_OFFSET``; void = the
number of classes), evaluated by mmdet's ``CocoPanopticMetric``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor

from dense_clip.models.masks import paint_masks
from dense_clip.registry import DET_MODELS

from .sam_instance_segmentor import SAMInstanceSegmentor

__all__ = ['SAMPanopticSegmentor']


@DET_MODELS.register_module()
class SAMPanopticSegmentor(SAMInstanceSegmentor):
    """SAM + dense CLIP, panoptic (test only).

    The vocabulary lists the thing classes first, then the stuff classes (mmdet's COCO panoptic
    order). Arguments as :class:`SAMInstanceSegmentor`, plus:

    Args:
        num_things: how many of the vocabulary's classes are things.
        mask_overlap: an instance more than this fraction covered by better ones is dropped.
        stuff_area_limit: stuff segments smaller than this (pixels, at the original size)
            become void.
        instance_score_thresh: instances below this score are not laid.
    """

    def __init__(self, num_things: int, mask_overlap: float = 0.5,
                 stuff_area_limit: int = 4096, instance_score_thresh: float = 0.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_things = int(num_things)
        self.mask_overlap = float(mask_overlap)
        self.stuff_area_limit = int(stuff_area_limit)
        self.instance_score_thresh = float(instance_score_thresh)
        if self.vocabulary is not None and not 0 < self.num_things <= len(self.vocabulary):
            raise ValueError(f'num_things={self.num_things} for a vocabulary of '
                             f'{len(self.vocabulary)} classes')

    def semantic_map(self, features: Tensor, proposals, result, size: tuple[int, int]) -> Tensor:
        """(H, W) labels: classified masks painted over the dense per-pixel arg-max."""
        vocabulary, text = self.text_embeddings()
        cosine = torch.einsum('dhw,sd->shw', F.normalize(features, dim=0), text.to(features))
        cosine = F.interpolate(cosine[None], size=size, mode='bilinear', align_corners=False)
        from dense_clip.models.text import reduce_synonyms

        dense = reduce_synonyms(cosine, vocabulary.synonym_index(cosine.device))[0].argmax(dim=0)
        order = result.scores.cpu() * proposals.scores
        return paint_masks(proposals.masks, result.labels.cpu(), order, dense.cpu())

    def fuse(self, instances: InstanceData, semantic: Tensor) -> Tensor:
        """mmdet's heuristic fusion of things and the semantic map's stuff -> (1, H, W) int."""
        from mmdet.models.seg_heads.panoptic_fusion_heads import HeuristicFusionHead
        from mmengine.config import ConfigDict

        num_classes = len(self.vocabulary)
        head = HeuristicFusionHead(
            num_things_classes=self.num_things, num_stuff_classes=num_classes - self.num_things,
            test_cfg=ConfigDict(mask_overlap=self.mask_overlap,
                                stuff_area_limit=self.stuff_area_limit))
        # Stuff logits as the head expects them: one channel per stuff class, then one for
        # "a thing" (pixels of thing classes no laid instance covers end up void).
        stuff = (semantic - self.num_things).clamp(min=-1)
        stuff[stuff < 0] = num_classes - self.num_things
        seg = F.one_hot(stuff.long(), num_classes - self.num_things + 1).permute(2, 0, 1).float()
        keep = instances.scores >= self.instance_score_thresh
        things = instances.labels < self.num_things
        laid = instances[keep & things]
        return head.predict([laid], seg[None])[0].sem_seg

    def predict_one(self, image: Tensor, sample, rescale: bool) -> None:
        """Sets ``pred_instances`` (things only) and ``pred_panoptic_seg`` of one input."""
        from mmengine.structures import PixelData

        proposals, result, features = self.classify(image, sample)
        instances = self.instances(proposals, result)
        semantic = self.semantic_map(features, proposals, result, tuple(image.shape[-2:]))
        if rescale:
            instances = self.rescale(instances, sample.metainfo)
            ori = tuple(sample.metainfo['ori_shape'][:2])
            semantic = F.interpolate(semantic[None, None].float(), size=ori,
                                     mode='nearest')[0, 0].long()
        sample.pred_panoptic_seg = PixelData(sem_seg=self.fuse(instances, semantic))
        things = instances.labels < self.num_things
        sample.pred_instances = instances[things]
