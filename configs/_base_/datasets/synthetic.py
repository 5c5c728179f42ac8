# The synthetic open-vocabulary benchmark (dense_clip.synthetic): 64x64 images, 24 colour x
# texture classes + background. Write it with tools/make_synthetic_dataset.py data/synthetic
# (tools/benchmark_synthetic.py writes its own copy).
dataset_type = 'SyntheticWorldDataset'
data_root = 'data/synthetic'
classnames = 'synthetic'
num_classes = 25
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline),
)
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
val_evaluator = test_evaluator
