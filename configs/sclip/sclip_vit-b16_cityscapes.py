# SCLIP on Cityscapes: wangf3014/SCLIP configs/cfg_city_scapes.py.
# Test resize: short side 560.
_base_ = [
    '../_base_/methods/sclip.py',
    '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime_seg.py',
]
