# Trident on Cityscapes: YuHengsss/Trident configs/cfg_city_scapes.py: cos_fac=3.0,
# refine_neg_cos=False, SAM per image half.
# Test resize: short side 688.
_base_ = [
    './_base_/trident_vit-b16.py',
    '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(cos_fac=3.0, refine_neg_cos=False, split_halves=True)
test_pipeline = [
    dict(t, scale=(2048, 688)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
