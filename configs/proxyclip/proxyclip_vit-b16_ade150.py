# ProxyCLIP (DINO ViT-B/8 proxy) on ADE20K-150: mc-lan/ProxyCLIP configs/cfg_ade20k.py: short side 448.
# Test resize: short side 448.
_base_ = [
    './_base_/proxyclip_vit-b16.py',
    '../_base_/datasets/ov_ade150.py',
    '../_base_/default_runtime_seg.py',
]
test_pipeline = [
    dict(t, scale=(2048, 448)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
