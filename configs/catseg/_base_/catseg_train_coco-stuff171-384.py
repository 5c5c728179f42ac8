# The authors' training recipe (configs/config.yaml + vitb_384.yaml / vitl_336.yaml, train_net.py,
# KU-CVLAB/CAT-Seg): COCO-Stuff-164k train2017, 171 classes, batch 4, 80k iterations, AdamW 2e-4,
# weight decay 1e-4 (0 on norms: WEIGHT_DECAY_NORM), CLIP at 0.01x (CLIP_MULTIPLIER), cosine to 0
# without warmup (WarmupCosineLR, WARMUP_ITERS 0), full-model gradient clipping at L2 norm 0.01.
# Data (MaskFormerSemanticDatasetMapper): short side 384 (long <= 1333), 384x384 random crop,
# SSD colour jitter, horizontal flip, pad to 384 with 128 (labels 255).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1333, 384), keep_ratio=True, backend='pillow'),
    dict(type='RandomCrop', crop_size=(384, 384), cat_max_ratio=1.0),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(384, 384), pad_val=dict(img=128, seg=255)),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='COCOStuffDataset',
        data_root='data/coco_stuff164k',
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
        pipeline=train_pipeline,
    ),
)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    # One key applies per parameter (the longest match): the packed q/k/v weights get the CLIP's
    # 0.01x and no weight decay, so their frozen k rows stay exactly constant (see finetune.py).
    paramwise_cfg=dict(norm_decay_mult=0.0, custom_keys={
        'clip_model': dict(lr_mult=0.01),
        'attn.in_proj_weight': dict(lr_mult=0.01, decay_mult=0.0)}),
)
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=80000, eta_min=0.0),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=5000)  # EVAL_PERIOD
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
