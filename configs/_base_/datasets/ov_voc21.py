# PASCAL VOC 2012 val, 21 classes with background (1449 images).
# Layout and split: SCLIP/NACLIP configs/cfg_voc21.py; mmseg's PascalVOCDataset.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
classnames = 'voc21'
num_classes = 21
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
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline,
    ),
)
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
