# Trident on PASCAL Context 59: YuHengsss/Trident configs/cfg_context59.py.
# Test resize: short side 576.
_base_ = [
    './_base_/trident_vit-b16.py',
    '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime_seg.py',
]
test_pipeline = [
    dict(t, scale=(2048, 576)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
