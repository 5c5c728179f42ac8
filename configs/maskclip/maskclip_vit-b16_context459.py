# MaskCLIP on PASCAL Context-459: SCLIP/NACLIP Context-59 settings.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_context459.py',
    '../_base_/default_runtime_seg.py',
]
