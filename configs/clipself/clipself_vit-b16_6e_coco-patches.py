# CLIPSelf region self-distillation of a CLIP ViT-B/16 (OpenAI weights) on COCO train2017 image
# patches (scripts/train_clipself_coco_image_patches_eva_vitb16.sh of wusize/CLIPSelf): 1024 px
# student input (longest side, black padding), a random m x n grid (M = 6) of at most 20 crops
# per image, teacher crops at 224; batch 16 (8 GPUs x 2), AdamW lr 1e-5, weight decay 0.1 (none
# on 1-d parameters), 1000 warm-up steps then cosine, 6 epochs; every transformer block trained;
# the tuned CLIP (0.7 student + 0.3 teacher) is written to <work_dir>/clipself_student.pt.
_base_ = ['../_base_/default_runtime_det.py']
model = dict(
    type='CLIPSelf',
    clip=dict(model_name='ViT-B-16', pretrained='zoo://clip_vit-b16_openai'),
    last_block='maskclip',
    region=dict(output_size=1, sampling_ratio=0, aligned=True),
    trainable_blocks=None,
    ensemble_alpha=0.7,
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[122.771, 116.746, 104.094],
                           std=[68.501, 66.632, 70.323], bgr_to_rgb=True, pad_size_divisor=1),
)
image_size = (1024, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CLIPSelfCrops', mode='grid', max_split=6, max_boxes=20, crop_size=224),
    dict(type='Resize', scale=image_size, keep_ratio=True, interpolation='bicubic'),
    dict(type='Pad', size=image_size, pad_val=dict(img=0)),
    dict(type='PackCLIPSelfInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CocoRegionsDataset', data_root='data/coco/',
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'), filter_cfg=dict(filter_empty_gt=False),
                 pipeline=train_pipeline))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6)
val_cfg = None
test_cfg = None
# The authors' EVA-02 model name has no "vit" in it, so open_clip's training script used its
# non-ViT defaults: betas (0.9, 0.999), eps 1e-8.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0, end=6,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=True, base_batch_size=16)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
custom_hooks = [dict(type='CLIPSelfExportHook', filename='clipself_student.pt')]
