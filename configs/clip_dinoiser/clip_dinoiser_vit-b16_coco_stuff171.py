# CLIP-DINOiser on COCO-Stuff-171: background head off.
# Test resize: short side 448 (segmentation/configs/_base_/datasets/*.py upstream).
_base_ = [
    './_base_/clip_dinoiser_vit-b16.py',
    '../_base_/datasets/ov_coco_stuff171.py',
    '../_base_/default_runtime_seg.py',
]
