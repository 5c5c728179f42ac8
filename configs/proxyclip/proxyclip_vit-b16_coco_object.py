# ProxyCLIP (DINO ViT-B/8 proxy) on COCO-Object: mc-lan/ProxyCLIP configs/cfg_coco_object.py: prob_thd=0.25.
# Test resize: short side 336.
_base_ = [
    './_base_/proxyclip_vit-b16.py',
    '../_base_/datasets/ov_coco_object.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.25)
