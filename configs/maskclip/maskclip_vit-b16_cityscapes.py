# MaskCLIP on Cityscapes: SCLIP/NACLIP protocol for this benchmark.
# Test resize: short side 560.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime_seg.py',
]
