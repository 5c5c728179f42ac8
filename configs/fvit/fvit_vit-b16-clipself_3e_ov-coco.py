# F-ViT on a CLIPSelf-refined ViT-B/16: the weights written by
# configs/clipself/clipself_vit-b16_6e_coco-patches.py (clipself_student.pt in its work dir).
_base_ = './fvit_vit-b16_3e_ov-coco.py'
# OpenAI-derived weights need QuickGELU: name the -quickgelu architecture for a local file.
model = dict(backbone=dict(clip=dict(model_name='ViT-B-16-quickgelu',
                                     pretrained='work_dirs/clipself_vit-b16_6e_coco-patches/clipself_student.pt')))
