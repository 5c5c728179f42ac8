# What every open-vocabulary segmentation benchmark shares: the test pipeline (keep-ratio resize
# to a short side of 336, long side <= 2048: the SCLIP/NACLIP protocol; labels loaded after the
# resize, so metrics use full-size labels), one image per batch, mmseg's IoUMetric. Each
# benchmark base (ov_<name>.py) adds its dataset, `classnames` (the model's vocabulary) and any
# other short side.
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline),
)
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
