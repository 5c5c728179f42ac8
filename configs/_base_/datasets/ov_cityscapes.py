# Cityscapes val, 19 classes (500 images).
# Layout and split: SCLIP/NACLIP configs/cfg_city_scapes.py;
#   labels by mmseg's cityscapes.py converter.
# Test-time resize: short side 560, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'CityscapesDataset'
data_root = 'data/cityscapes'
classnames = 'cityscapes'
num_classes = 19
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(2048, 560), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=test_pipeline,
    )
)
val_dataloader = test_dataloader
