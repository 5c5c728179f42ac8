# ClearCLIP on ADE20K-150: mc-lan/ClearCLIP configs/cfg_ade20k.py (not stored; 448 from runs of
# it, see protocols.md).
# Test resize: short side 448.
_base_ = [
    '../_base_/methods/clearclip.py',
    '../_base_/datasets/ov_ade150.py',
    '../_base_/default_runtime_seg.py',
]
test_pipeline = [
    dict(t, scale=(2048, 448)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
