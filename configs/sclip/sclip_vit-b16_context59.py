# SCLIP on PASCAL Context-59: wangf3014/SCLIP configs/cfg_context59.py.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/sclip.py',
    '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime_seg.py',
]
