# PASCAL Context val, 59 classes: background ignored (reduce_zero_label).
# Layout and split: SCLIP/NACLIP configs/cfg_context59.py; mmseg's PascalContextDataset59.
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'PascalContextDataset59'
data_root = 'data/VOCdevkit/VOC2010'
classnames = 'context59'
num_classes = 59
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt',
    )
)
val_dataloader = test_dataloader
