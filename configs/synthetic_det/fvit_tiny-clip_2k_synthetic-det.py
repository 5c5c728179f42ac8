# F-ViT on the embedded tiny CLIP (frozen), trained on the 18 seen classes of the synthetic
# detection set (128 px), tested on all 24 with the VLM score fused. Sized for one CPU core:
# 64-channel FPN and box head, 128 sampled RoIs per image, 2000 iterations of 4 images.
# The tiny CLIP has 2 blocks: the pyramid reads block 0 twice and the MaskCLIP last block twice.
_base_ = [
    '../fvit/_base_/fvit_vit-b16.py',
    '../_base_/datasets/synthetic_detection.py',
    '../_base_/default_runtime_det.py',
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),
    backbone=dict(clip=dict(_delete_=True, model_name='dense_clip:tiny-clip-synth'),
                  out_indices=(0, 0, 1, 1), norm_cfg=norm_cfg),
    neck=dict(out_channels=64, norm_cfg=norm_cfg),
    rpn_head=dict(in_channels=64, feat_channels=64,
                  anchor_generator=dict(strides=[2, 4, 8, 16, 32])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64, featmap_strides=[2, 4, 8, 16]),
        bbox_head=dict(in_channels=64, conv_out_channels=64, num_classes=24,
                       norm_cfg=norm_cfg)),
    # The tiny CLIP knows only the world's words: its caption templates, not ViLD's.
    text=dict(prompt_style='clip',
              templates=['a photo of {}.', 'a picture of {}.', '{}.', 'an image of {}.']),
    train_cfg=dict(rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rcnn=dict(score_thr=0.001)),
)
# Base-class training: the set's train split holds seen classes only.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='OVCocoDataset', data_root='data/synthetic_det/', class_split='synthetic',
                 keep_classes='base', ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='images/train/'), filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2000, val_interval=2000)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.1),
                     clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=False, milestones=[1500], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500,
                                     max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
