# Trident on COCO-Stuff 171: YuHengsss/Trident configs/cfg_coco_stuff164k.py.
# Test resize: short side 448.
_base_ = [
    './_base_/trident_vit-b16.py',
    '../_base_/datasets/ov_coco_stuff171.py',
    '../_base_/default_runtime_seg.py',
]
test_pipeline = [
    dict(t, scale=(2048, 448)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
