# NACLIP on PASCAL VOC21: sinahmr/NACLIP configs/cfg_voc21.py.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.1)
