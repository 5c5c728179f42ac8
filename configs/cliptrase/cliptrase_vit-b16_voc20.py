# CLIPtrase on PASCAL VOC20: leaves162/CLIPtrase clip_self_correlation.py, dataset 'VOC20'.
# Short side 224 (bicubic) + 224 centre crop of image and labels, whole-image forward.
_base_ = [
    '../_base_/methods/cliptrase.py',
    '../_base_/datasets/ov_voc20.py',
    '../_base_/default_runtime_seg.py',
]
# The authors multiply VOC20's patch logits by the image-level (CLS) logits.
model = dict(steps=[dict(type='ClsReweight'), dict(type='ClusterVote', eps=0.7, min_samples=3)])
test_pipeline = [
    t for t in _base_.test_pipeline if t.type not in ('Resize', 'PackSegInputs')
] + _base_.centre_crop_steps
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
