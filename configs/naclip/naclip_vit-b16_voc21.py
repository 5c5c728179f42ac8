# NACLIP on PASCAL VOC21: sinahmr/NACLIP configs/cfg_voc21.py (since commit defb7c9: the whole
# image, slide_crop=0; prob_thd=0.1). Test resize: short side 336.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.1, test_cfg=dict(mode='whole'))
