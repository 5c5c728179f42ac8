# F-ViT on a frozen CLIP ViT-B/16 (wusize/CLIPSelf F-ViT/configs/ov_coco/
# fvit_vitb16_upsample_fpn_bs64_3e_ovcoco_eva_original.py, in mmdet 3 form). Widths that depend
# on the CLIP (FPN inputs, the box head's class fc) are None: the detector fills them in.
norm_cfg = dict(type='SyncBN', requires_grad=True)  # reverted to BN when not distributed
model = dict(
    type='FViT',
    # The authors normalise with ImageNet statistics (their Normalize), not CLIP's.
    data_preprocessor=dict(type='DetDataPreprocessor',
                           mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='CLIPViTPyramid', clip=dict(model_name='ViT-B-16', pretrained='zoo://clip_vit-b16_openai'),
                  out_indices=(3, 5, 7, 11), last_block='maskclip', pos_embed_interp='size',
                  norm_cfg=norm_cfg),
    neck=dict(type='FPN', in_channels=None, out_channels=256, num_outs=5, norm_cfg=norm_cfg),
    rpn_head=dict(
        type='RPNHead', in_channels=256, feat_channels=256, num_convs=2,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='FViTRoIHead', alpha=0.1, beta=0.8, vlm_temperature=75.0,
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                                out_channels=256, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='FViTBBoxHead', in_channels=256, fc_out_channels=None, roi_feat_size=7,
            num_classes=65, num_shared_convs=4, num_shared_fcs=2, num_cls_fcs=1, num_reg_fcs=1,
            norm_cfg=norm_cfg, reg_class_agnostic=True,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0),
            temperature=50.0, learn_temperature=True, background='text',
            background_loss_weight=0.6)),
    text=dict(class_split=None, prompt_style='vild'),
    vlm_region=dict(output_size=1, sampling_ratio=0, aligned=False),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000,
                          nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.4), max_per_img=100)),
)
