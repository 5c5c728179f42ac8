# Trident on PASCAL VOC21: YuHengsss/Trident configs/cfg_voc21.py: prob_thd=0.2.
# Test resize: short side 448.
_base_ = [
    './_base_/trident_vit-b16.py',
    '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(prob_thresh=0.2)
test_pipeline = [
    dict(t, scale=(2048, 448)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
