"""Detection datasets with base / novel class splits."""

from .ov_coco import OVCocoDataset, check_category_order, read_coco_proposals

__all__ = ['OVCocoDataset', 'check_category_order', 'read_coco_proposals']
