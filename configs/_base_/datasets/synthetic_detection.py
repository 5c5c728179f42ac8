# The synthetic world as an open-vocabulary detection set (dense_clip.synthetic.detection):
# 128 px scenes, objects of radius 10-18 px as in the tiny CLIP's training images, 24 colour x
# texture classes, 18 seen (base) and 6 unseen (novel). Write it with
#   python tools/make_synthetic_dataset.py data/synthetic_det --detection
dataset_type = 'OVCocoDataset'
data_root = 'data/synthetic_det/'
class_split = 'synthetic'
image_scale = (128, 128)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),  # a no-op at 128 px
    dict(type='LoadAnnotations', with_bbox=True),
    # 'instances' (original-pixel annotations) lets the metric build its ground truth from the
    # dataset (ann_file=None below), so overriding data_root is enough.
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'instances')),
]
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, class_split=class_split,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='images/val/'),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVDetMetric', ann_file=None, metric='bbox', format_only=False)
test_evaluator = val_evaluator
