# CLIP-DINOiser on PASCAL VOC21: background head on (apply_found for VOC and COCO-Object in train.py validate).
# Test resize: short side 448 (segmentation/configs/_base_/datasets/*.py upstream).
_base_ = [
    './_base_/clip_dinoiser_vit-b16.py',
    '../_base_/datasets/ov_voc21.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(head=dict(apply_background=True))
test_pipeline = [
    dict(t, scale=(2048, 448)) if t.type == 'Resize' else t for t in _base_.test_pipeline
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
