# ClearCLIP on COCO-Stuff-171: mc-lan/ClearCLIP configs/cfg_coco_stuff164k.py (not stored; 448
# from runs of it, see protocols.md).
# Test resize: short side 448.
_base_ = [
    '../_base_/methods/clearclip.py',
    '../_base_/datasets/ov_coco_stuff171.py',
    '../_base_/default_runtime_seg.py',
]
