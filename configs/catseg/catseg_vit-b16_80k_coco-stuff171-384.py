# Training CAT-Seg (B) on COCO-Stuff-171 as the authors (run.sh configs/vitb_384.yaml), validated on
# COCO-Stuff val with the evaluation protocol. Then evaluate with the six catseg_<backbone>_<benchmark>.py
# configs and the trained checkpoint.
_base_ = [
    './_base_/catseg_vit-b16.py',
    '../_base_/datasets/ov_coco_stuff171.py',
    './_base_/catseg_train_coco-stuff171-384.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(text=dict(vocabulary='catseg_coco_stuff171'))  # datasets/coco.json
test_pipeline = [dict(type='LoadImageChecked'), _base_.catseg_resize, dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
