# ADE20K-Full val, 847 classes (2000 images), 16-bit TIFF labels, 65535 ignored.
# Layout and split: CAT-Seg cat_seg/data/datasets/register_ade20k_847.py;
#   labels by tools/dataset_converters/ade847.py.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'ADE20K847Dataset'
data_root = 'data/ADE20K_2021_17_01'
classnames = 'ade847'
num_classes = 847
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadUInt16Annotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='images_detectron2/validation',
            seg_map_path='annotations_detectron2/validation',
        ),
        pipeline=test_pipeline,
    )
)
val_dataloader = test_dataloader
test_evaluator = dict(ignore_index=65535)
val_evaluator = test_evaluator
