# The synthetic world's validation set as COCO instances (dense_clip.synthetic; written by
# tools/make_synthetic_dataset.py data/synthetic): 64 px images, 24 colour x texture classes in
# category-id order, 6 of them unseen. mmdet's CocoDataset and CocoMetric (box and mask AP).
dataset_type = 'CocoDataset'
data_root = 'data/synthetic/'
classnames = 'synthetic'  # background first: the "no object" class; then the 24 classes
_colours = ('red', 'orange', 'yellow', 'green', 'blue', 'purple')
_textures = ('plain', 'striped', 'dotted', 'checkered')
metainfo = dict(classes=tuple(f'{c} {t}' for c in _colours for t in _textures))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),  # for ground-truth proposals
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='img_dir/val/'),
                 test_mode=True, pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
                      metric=['bbox', 'segm'], format_only=False)
val_evaluator = test_evaluator
