# CLIPtrase on ADE20K-847: leaves162/CLIPtrase clip_self_correlation.py, dataset 'ADEfull'.
# Short side 224 (bicubic) + 224 centre crop of image and labels, whole-image forward.
_base_ = [
    '../_base_/methods/cliptrase.py',
    '../_base_/datasets/ov_ade847.py',
    '../_base_/default_runtime_seg.py',
]
# 16-bit labels: mmcv's pillow resize takes uint8 only, so image and labels resize with cv2.
test_pipeline = [t for t in _base_.test_pipeline if t.type not in ('Resize', 'PackSegInputs')] + [
    dict(t, backend='cv2') if t.type == 'Resize' else t for t in _base_.centre_crop_steps
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
