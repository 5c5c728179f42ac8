# F-ViT's OV-COCO schedule: 3 epochs, AdamW lr 1e-4 at batch 64 (8 GPUs x 8), weight decay 0.1,
# gradient clipping 1.0, linear warm-up 250 iterations from 0.001 (its step at epoch 100 never
# comes). The authors train in fp16 (loss scale 512); this config trains in fp32.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_interval=1)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
                     clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250)]
auto_scale_lr = dict(enable=True, base_batch_size=64)
