# OV-COCO (Bansal et al. 2018 split; OVR-CNN, RegionCLIP, F-ViT): 48 base + 17 novel classes.
# Files (data/coco): train2017/, val2017/ and the OVR-CNN / F-ViT zero-shot annotation files
# zero-shot/instances_train2017_seen_2_65_cat.json (base annotations only) and
# zero-shot/instances_val2017_all_2.json (65 classes), see the README.
dataset_type = 'OVCocoDataset'
data_root = 'data/coco/'
class_split = 'ov_coco'
backend_args = None
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, class_split=class_split,
                 ann_file='zero-shot/instances_val2017_all_2.json',
                 data_prefix=dict(img='val2017/'), test_mode=True, pipeline=test_pipeline,
                 backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVDetMetric', ann_file=data_root + 'zero-shot/instances_val2017_all_2.json',
                     metric='bbox', format_only=False, backend_args=backend_args)
test_evaluator = val_evaluator
