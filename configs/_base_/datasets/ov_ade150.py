# ADE20K (ADEChallengeData2016) val, 150 classes (2000 images).
# Layout and split: SCLIP/NACLIP configs/cfg_ade20k.py;
#   mmseg's ADE20KDataset (reduce_zero_label=True).
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
classnames = 'ade150'
num_classes = 150
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),  # after Resize: metrics use full-size labels
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline,
    ),
)
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
