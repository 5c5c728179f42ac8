# ProxyCLIP (DINO ViT-B/8 proxy) on PASCAL Context-59: mc-lan/ProxyCLIP configs/no cfg_context59.py upstream; the Context-60 resize, no threshold.
# Test resize: short side 336.
_base_ = [
    './_base_/proxyclip_vit-b16.py',
    '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime_seg.py',
]
