# ProxyCLIP (DINO ViT-B/8 proxy) on PASCAL VOC20: mc-lan/ProxyCLIP configs/no cfg_voc20.py upstream; the VOC21 resize, no threshold.
# Test resize: short side 336.
_base_ = [
    './_base_/proxyclip_vit-b16.py',
    '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime_seg.py',
]
