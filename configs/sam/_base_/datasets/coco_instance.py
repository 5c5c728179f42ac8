# COCO 2017 val instance segmentation (mmdet's CocoDataset and CocoMetric, box and mask AP).
# Images are resized so the long side is 1024 px, SAM's input size (this project's choice: SAM
# sees no more and no less than it was trained on; CLIP sees the same pixels).
dataset_type = 'CocoDataset'
data_root = 'data/coco/'
classnames = 'coco80'  # the text vocabulary, in the dataset's class order
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json',
                      metric=['bbox', 'segm'], format_only=False)
val_evaluator = test_evaluator
