# NACLIP on COCO-Stuff-171: sinahmr/NACLIP configs/cfg_coco_stuff164k.py.
# Test resize: short side 448.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_coco_stuff171.py',
    '../_base_/default_runtime_seg.py',
]
