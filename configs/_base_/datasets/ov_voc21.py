# PASCAL VOC 2012 val, 21 classes with background (1449 images).
# Layout and split: SCLIP/NACLIP configs/cfg_voc21.py; mmseg's PascalVOCDataset.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'PascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
classnames = 'voc21'
num_classes = 21
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
    )
)
val_dataloader = test_dataloader
