# MaskCLIP on COCO-Stuff-171: SCLIP/NACLIP protocol for this benchmark.
# Test resize: short side 448.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_coco_stuff171.py',
    '../_base_/default_runtime_seg.py',
]
