# CLIP-DINOiser on PASCAL Context-59: background head off.
# Test resize: short side 448 (segmentation/configs/_base_/datasets/*.py upstream).
_base_ = [
    './_base_/clip_dinoiser_vit-b16.py',
    '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime_seg.py',
]
test_pipeline = [
    dict(t, scale=(2048, 448)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
