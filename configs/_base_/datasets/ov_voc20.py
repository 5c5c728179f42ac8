# PASCAL VOC 2012 val without background (VOC20): background ignored.
# Layout and split: SCLIP/NACLIP configs/cfg_voc20.py.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'PascalVOC20Dataset'
data_root = 'data/VOCdevkit/VOC2012'
classnames = 'voc20'
num_classes = 20
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
    )
)
val_dataloader = test_dataloader
