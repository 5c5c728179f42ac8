# COCO-Object val2017: background + 80 things (5000 images).
# Layout and split: SCLIP/NACLIP configs/cfg_coco_object.py;
#   labels by tools/dataset_converters/coco_object.py.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
dataset_type = 'COCOObjectDataset'
data_root = 'data/coco_stuff164k'
classnames = 'coco_object'
num_classes = 81
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
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline,
    ),
)
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
