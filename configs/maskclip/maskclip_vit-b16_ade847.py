# MaskCLIP on ADE20K-847: SCLIP/NACLIP ADE20K settings.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_ade847.py',
    '../_base_/default_runtime_seg.py',
]
