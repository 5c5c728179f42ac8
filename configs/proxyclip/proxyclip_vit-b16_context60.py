# ProxyCLIP (DINO ViT-B/8 proxy) on PASCAL Context-60: mc-lan/ProxyCLIP configs/cfg_context60.py: prob_thd=0.15.
# Test resize: short side 336.
_base_ = [
    './_base_/proxyclip_vit-b16.py',
    '../_base_/datasets/ov_context60.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.15)
