# COCO-Object val2017: background + 80 things (5000 images).
# Layout and split: SCLIP/NACLIP configs/cfg_coco_object.py;
#   labels by tools/dataset_converters/coco_object.py.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'COCOObjectDataset'
data_root = 'data/coco_stuff164k'
classnames = 'coco_object'
num_classes = 81
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
    )
)
val_dataloader = test_dataloader
