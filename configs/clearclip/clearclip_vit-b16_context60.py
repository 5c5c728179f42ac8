# ClearCLIP on PASCAL Context-60: mc-lan/ClearCLIP configs/cfg_context60.py.
# Test resize: short side 448.
_base_ = [
    '../_base_/methods/clearclip.py',
    '../_base_/datasets/ov_context60.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.15)
test_pipeline = [
    dict(t, scale=(2048, 448)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
