# NACLIP on COCO-Object: sinahmr/NACLIP configs/cfg_coco_object.py.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_coco_object.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.1)
