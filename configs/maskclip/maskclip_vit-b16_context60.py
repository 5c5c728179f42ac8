# MaskCLIP on PASCAL Context-60: SCLIP/NACLIP protocol for this benchmark; prob_thresh=0.1 as
# NACLIP (assumed, see protocols.md).
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/maskclip.py',
    '../_base_/datasets/ov_context60.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.1)
