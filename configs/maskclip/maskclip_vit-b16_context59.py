# MaskCLIP on PASCAL Context-59: SCLIP/NACLIP protocol for this benchmark.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime_seg.py',
]
