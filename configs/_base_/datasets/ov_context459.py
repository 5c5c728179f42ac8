# PASCAL Context val, 459 classes (5105 images), 16-bit TIFF labels, 65535 ignored.
# Layout and split: CAT-Seg cat_seg/data/datasets/register_pascal_context.py;
#   labels by tools/dataset_converters/pascal_context459.py.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'PascalContext459Dataset'
data_root = 'data/VOCdevkit/VOC2010'
classnames = 'context459'
num_classes = 459
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
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/pc459_val'),
        pipeline=test_pipeline,
    )
)
val_dataloader = test_dataloader
test_evaluator = dict(ignore_index=65535)
val_evaluator = test_evaluator
