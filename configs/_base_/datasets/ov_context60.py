# PASCAL Context val, 59 classes + background (5105 images).
# Layout and split: SCLIP/NACLIP configs/cfg_context60.py;
#   labels by mmseg's tools/dataset_converters/pascal_context.py.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
dataset_type = 'PascalContextDataset'
data_root = 'data/VOCdevkit/VOC2010'
classnames = 'context60'
num_classes = 60
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
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
        pipeline=test_pipeline,
    ),
)
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
