# MaskCLIP on ADE20K-150: SCLIP/NACLIP protocol for this benchmark.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_ade150.py',
    '../_base_/default_runtime_seg.py',
]
