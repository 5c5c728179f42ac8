# Trident on ADE20K 150: YuHengsss/Trident configs/cfg_ade20k.py: refine_neg_cos=False.
# Test resize: short side 576.
_base_ = [
    './_base_/trident_vit-b16.py',
    '../_base_/datasets/ov_ade150.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(refine_neg_cos=False)
test_pipeline = [
    dict(t, scale=(2048, 576)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
