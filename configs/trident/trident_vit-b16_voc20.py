# Trident on PASCAL VOC20: YuHengsss/Trident configs/cfg_voc20.py: slide_stride=112, cos_fac=0.0.
# Test resize: short side 336.
_base_ = [
    './_base_/trident_vit-b16.py',
    '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(cos_fac=0.0, test_cfg=dict(stride=112))
test_pipeline = [
    dict(t, scale=(2048, 336)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
