# NACLIP on COCO-Stuff-171: sinahmr/NACLIP configs/cfg_coco_stuff164k.py (short side 336 since
# commit defb7c9; 448 before, and in the other methods' configs).
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_coco_stuff171.py',
    '../_base_/default_runtime_seg.py',
]
test_pipeline = [
    dict(t, scale=(2048, 336)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
