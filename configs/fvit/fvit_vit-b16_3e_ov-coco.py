# F-ViT, frozen CLIP ViT-B/16 (OpenAI weights), OV-COCO: trained on the 48 base classes, tested
# on all 65 with the VLM score fused (alpha 0.1, beta 0.8). 640x640 large-scale jitter as in the
# authors' config; 8 images per GPU.
_base_ = [
    './_base_/fvit_vit-b16.py',
    '../_base_/datasets/ov_coco_detection.py',
    './_base_/schedule_3e_adamw.py',
    '../_base_/default_runtime_det.py',
]
image_size = (640, 640)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=image_size),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', pad_to_square=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type='OVCocoDataset', data_root='data/coco/', class_split='ov_coco',
                 keep_classes='base', ann_file='zero-shot/instances_train2017_seen_2_65_cat.json',
                 data_prefix=dict(img='train2017/'), filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
