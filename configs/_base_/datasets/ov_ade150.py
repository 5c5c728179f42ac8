# ADE20K (ADEChallengeData2016) val, 150 classes (2000 images).
# Layout and split: SCLIP/NACLIP configs/cfg_ade20k.py;
#   mmseg's ADE20KDataset (reduce_zero_label=True).
# Test-time resize: short side 336, long side <= 2048 (the SCLIP/NACLIP protocol).
_base_ = ['./ov_common.py']
dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
classnames = 'ade150'
num_classes = 150
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
    )
)
val_dataloader = test_dataloader
