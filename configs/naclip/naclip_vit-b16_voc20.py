# NACLIP on PASCAL VOC20: sinahmr/NACLIP configs/cfg_voc20.py (since commit defb7c9: the whole
# image, slide_crop=0). Test resize: short side 336.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(test_cfg=dict(mode='whole'))
