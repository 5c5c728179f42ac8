# SCLIP on PASCAL VOC21: wangf3014/SCLIP configs/cfg_voc21.py.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/sclip.py',
    '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(logit_scale=65.0, prob_thresh=0.1, area_thresh=0.1)
