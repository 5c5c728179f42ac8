# MaskCLIP on COCO-Object: SCLIP/NACLIP protocol for this benchmark; prob_thresh=0.1 as NACLIP
# (assumed, see protocols.md).
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_coco_object.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.1)
