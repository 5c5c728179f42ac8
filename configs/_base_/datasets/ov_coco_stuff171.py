# COCO-Stuff-164k val2017, 171 classes (5000 images).
# Layout and split: SCLIP/NACLIP configs/cfg_coco_stuff164k.py;
#   labels by mmseg's coco_stuff164k.py converter.
# Test-time resize: short side 448, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'COCOStuffDataset'
data_root = 'data/coco_stuff164k'
classnames = 'coco_stuff171'
num_classes = 171
test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline,
    )
)
val_dataloader = test_dataloader
