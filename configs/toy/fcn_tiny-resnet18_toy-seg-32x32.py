# Smoke-test config: a tiny supervised FCN trains a few iterations on a small synthetic set.
# Used by the foundation tests (train, resume, 2-process CPU training) and as a template.
_base_ = [
    '../_base_/default_runtime_seg.py',
    '../_base_/datasets/toy_seg.py',
    '../_base_/schedules/toy_iters.py',
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(32, 32)),
    backbone=dict(
        type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, num_stages=4,
        out_indices=(3,), strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), norm_cfg=norm_cfg,
        contract_dilation=True),
    decode_head=dict(
        type='FCNHead', in_channels=64, in_index=0, channels=16, num_convs=1, concat_input=False,
        dropout_ratio=0.0, num_classes=3, norm_cfg=norm_cfg, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
