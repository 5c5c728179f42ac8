"""Detection datasets with base / novel class splits, and CLIPSelf's data transforms."""

from .coco_regions import CocoRegionsDataset
from .ov_coco import OVCocoDataset, OVLVISDataset, check_category_order, read_coco_proposals
from .transforms import CLIPSelfCrops, PackCLIPSelfInputs, grid_choices, resize_max_size

__all__ = ['CLIPSelfCrops', 'CocoRegionsDataset', 'OVCocoDataset', 'OVLVISDataset',
           'PackCLIPSelfInputs',
           'check_category_order', 'grid_choices', 'read_coco_proposals', 'resize_max_size']
