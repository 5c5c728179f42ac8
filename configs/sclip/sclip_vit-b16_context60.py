# SCLIP on PASCAL Context-60: wangf3014/SCLIP configs/cfg_context60.py.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/sclip.py',
    '../_base_/datasets/ov_context60.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(logit_scale=50.0, prob_thresh=0.1)
