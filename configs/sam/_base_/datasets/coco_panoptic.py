# COCO 2017 val panoptic segmentation (mmdet's CocoPanopticDataset and CocoPanopticMetric: PQ,
# SQ, RQ over things and stuff; needs panopticapi). 133 classes: 80 things, then 53 stuff.
# Images: long side 1024 px, as the COCO instance base.
dataset_type = 'CocoPanopticDataset'
data_root = 'data/coco/'
classnames = 'coco_panoptic133'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True),
    dict(type='LoadPanopticAnnotations'),
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
                 ann_file='annotations/panoptic_val2017.json',
                 data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
                 test_mode=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='CocoPanopticMetric',
                      ann_file=data_root + 'annotations/panoptic_val2017.json',
                      seg_prefix=data_root + 'annotations/panoptic_val2017/')
val_evaluator = test_evaluator
