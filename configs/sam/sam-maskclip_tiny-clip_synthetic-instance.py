# Instance segmentation on the synthetic world with the embedded CLIP (MaskCLIP dense map, the 4
# caption templates it was trained with) classifying SAM ViT-B's automatic masks (downloads SAM:
# zoo://sam_vit_b). The classification half alone, with the annotated masks as proposals and no
# download: --cfg-options model.generator=ground_truth (README, "Segment Anything").
_base_ = [
    './_base_/models/sam-maskclip_vit-b16.py',
    './_base_/datasets/synthetic_instance.py',
    './_base_/default_runtime_det.py',
]
model = dict(
    clip=dict(_delete_=True, model_name='dense_clip:tiny-clip-synth'),
    text=dict(templates=['a photo of {}.', 'a picture of {}.', '{}.', 'an image of {}.']),
)
