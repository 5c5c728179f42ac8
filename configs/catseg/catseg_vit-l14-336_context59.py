# CAT-Seg (L) on PC-59, the authors' evaluation (eval.sh: sliding window, pooling 1x1).
# Reported (README of KU-CVLAB/CAT-Seg): 63.3 mIoU.
# Weights: the authors' checkpoint from the zoo (zoo://catseg_vit-l14, converted on download);
#   a local copy: --cfg-options model.weights=PATH/model_large.pth.
_base_ = [
    './_base_/catseg_vit-l14-336.py',
    '../_base_/datasets/ov_context59.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(weights='zoo://catseg_vit-l14', text=dict(vocabulary='catseg_context59'))
test_pipeline = [dict(type='LoadImageChecked'), _base_.catseg_resize, dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
