# SAM ViT-B masks + CLIP ViT-B/16 mask classification on LVIS v1 val (1203 classes; 300
# detections per image, the LVIS protocol).
_base_ = [
    './_base_/models/sam-maskclip_vit-b16.py',
    './_base_/datasets/lvis_v1_instance.py',
    './_base_/default_runtime_det.py',
]
model = dict(max_per_img=300)
