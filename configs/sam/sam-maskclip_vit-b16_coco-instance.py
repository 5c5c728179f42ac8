# SAM ViT-B masks + CLIP ViT-B/16 mask classification, open-vocabulary instance segmentation on
# COCO val2017 (80 classes, none seen in training: the whole pipeline is training-free).
_base_ = [
    './_base_/models/sam-maskclip_vit-b16.py',
    './_base_/datasets/coco_instance.py',
    './_base_/default_runtime_det.py',
]
