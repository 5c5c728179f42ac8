# SCLIP on ADE20K-150: wangf3014/SCLIP configs/cfg_ade20k.py.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/sclip.py',
    '../_base_/datasets/ov_ade150.py',
    '../_base_/default_runtime_seg.py',
]
