# NACLIP on PASCAL Context-60: sinahmr/NACLIP configs/cfg_context60.py.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_context60.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.1)
