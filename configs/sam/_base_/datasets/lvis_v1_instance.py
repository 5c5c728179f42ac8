# LVIS v1 val instance segmentation (mmdet's LVISV1Dataset; federated box and mask AP with APr /
# APc / APf through the official LVIS API, LVISMetricNumpy2). LVIS keeps 300 detections per
# image (Gupta et al., CVPR 2019). Images: long side 1024 px, as the COCO base.
dataset_type = 'LVISV1Dataset'
data_root = 'data/lvis_v1/'
classnames = 'lvis1203'
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
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/lvis_v1_val.json',
                 data_prefix=dict(img=''), test_mode=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='LVISMetricNumpy2', ann_file=data_root + 'annotations/lvis_v1_val.json',
                      metric=['bbox', 'segm'])
val_evaluator = test_evaluator
