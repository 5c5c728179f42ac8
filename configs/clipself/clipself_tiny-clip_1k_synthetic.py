# CLIPSelf on the embedded tiny CLIP with the synthetic detection set's training images (seen
# classes only; the teacher sees 64 px crops, its training size): grid patches as on COCO, 128 px
# student input, 8 images per step, 1000 steps, lr 1e-4 (the tiny CLIP has 2 blocks).
_base_ = './clipself_vit-b16_6e_coco-patches.py'
model = dict(clip=dict(_delete_=True, model_name='dense_clip:tiny-clip-synth'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CLIPSelfCrops', mode='grid', max_split=6, max_boxes=20, crop_size=64),
    dict(type='Resize', scale=(128, 128), keep_ratio=True, interpolation='bicubic'),
    dict(type='Pad', size=(128, 128), pad_val=dict(img=0)),
    dict(type='PackCLIPSelfInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CocoRegionsDataset', data_root='data/synthetic_det/',
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='images/train/'), filter_cfg=dict(filter_empty_gt=False),
                 pipeline=train_pipeline))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=1000)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=0, end=1000),
]
auto_scale_lr = dict(enable=False)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(by_epoch=False, interval=500, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
