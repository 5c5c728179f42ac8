# CLIPtrase on Cityscapes: not evaluated by the authors; their centre-crop protocol carried over.
# Short side 224 (bicubic) + 224 centre crop of image and labels, whole-image forward.
_base_ = [
    '../_base_/methods/cliptrase.py',
    '../_base_/datasets/ov_cityscapes.py',
    '../_base_/default_runtime_seg.py',
]
test_pipeline = [
    t for t in _base_.test_pipeline if t.type not in ('Resize', 'PackSegInputs')
] + _base_.centre_crop_steps
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
