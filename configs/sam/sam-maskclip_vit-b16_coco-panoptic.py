# SAM ViT-B masks + CLIP ViT-B/16, open-vocabulary panoptic segmentation on COCO val2017: things
# from the classified masks, stuff from the semantic map (masks painted over the dense arg-max),
# fused by mmdet's heuristic head with Panoptic FPN's settings (mmdet 3.3
# configs/panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py: mask_overlap=0.5, stuff_area_limit=4096).
_base_ = [
    './_base_/models/sam-maskclip_vit-b16.py',
    './_base_/datasets/coco_panoptic.py',
    './_base_/default_runtime_det.py',
]
model = dict(type='SAMPanopticSegmentor', num_things=80, mask_overlap=0.5,
             stuff_area_limit=4096)
