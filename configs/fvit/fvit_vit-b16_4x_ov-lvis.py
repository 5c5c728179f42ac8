# F-ViT, frozen CLIP ViT-B/16, OV-LVIS (F-ViT/configs/ov_lvis/
# fvit_vitb16_upsample_fpn_bs64_4x_ovlvis_eva_original.py): class-agnostic FCN mask head,
# 1024x1024 large-scale jitter, 48 epochs (LR x0.1 at 32 and 44), VLM fusion alpha 0.1 /
# beta 0.6 at temperature 50, background loss weight 0.9, 300 detections per image.
_base_ = [
    './_base_/fvit_vit-b16.py',
    '../_base_/datasets/ov_lvis_detection.py',
    './_base_/schedule_3e_adamw.py',
    '../_base_/default_runtime_det.py',
]
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    roi_head=dict(
        alpha=0.1, beta=0.6, vlm_temperature=50.0,
        bbox_head=dict(num_classes=1203, background_loss_weight=0.9),
        mask_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
                                out_channels=256, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(type='FCNMaskHead', num_convs=4, in_channels=256, conv_out_channels=256,
                       num_classes=1203, class_agnostic=True, norm_cfg=norm_cfg,
                       loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=dict(assigner=dict(match_low_quality=True), mask_size=28)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, nms=dict(type='nms', iou_threshold=0.5),
                            max_per_img=300, mask_thr_binary=0.5)),
)
image_size = (1024, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
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
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type='OVLVISDataset', data_root='data/lvis_v1/', class_split='ov_lvis',
                 keep_classes='base', ann_file='annotations/lvis_v1_train.json',
                 data_prefix=dict(img=''), filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=48)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=True, milestones=[32, 44], gamma=0.1),
]
