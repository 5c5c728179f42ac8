# CAT-Seg (B) on PAS-20b, the authors' evaluation (eval.sh: sliding window, pooling 1x1).
# Reported (README of KU-CVLAB/CAT-Seg): 77.3 mIoU.
# Weights: the authors' checkpoint from the zoo (zoo://catseg_vit-b16, converted on download);
#   a local copy: --cfg-options model.weights=PATH/model_base.pth.
# PAS-20b: VOC 2012 val with background; CAT-Seg adds 39 PASCAL-Context names and maps any of
# them to background (VOCbEvaluator), i.e. a background class scoring the max over its names.
_base_ = [
    './_base_/catseg_vit-b16.py',
    '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(weights='zoo://catseg_vit-b16', text=dict(vocabulary='catseg_voc20b', synonyms='all'))
test_pipeline = [dict(type='LoadImageChecked'), _base_.catseg_resize, dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
