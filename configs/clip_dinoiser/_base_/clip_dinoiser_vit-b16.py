# CLIP-DINOiser: Wysoczanska et al., "CLIP-DINOiser: Teaching CLIP a few DINO tricks for
# open-vocabulary semantic segmentation", ECCV 2024. OpenCLIP ViT-B/16 mIoU (VOC21/PC60/Object/
# VOC20/PC59/Stuff/City/ADE): 62.1 / 32.4 / 34.8 / 80.9 / 35.9 / 24.6 / 31.7 / 20.0.
_base_ = ['../../_base_/models/ov_segmentor_vit-b16.py']
# wysoczanska/clip_dinoiser: configs/clip_dinoiser.yaml (feats_idx=-3, in_dim=256, gamma=0.2,
# delta=0.99), configs/maskclip.yaml (OpenCLIP ViT-B-16 laion2b_s34b_b88k, use_templates=True:
# 80 ImageNet templates), MaskClipHead.cls_seg (softmax of 100 x cosine), MaskClip.resize_pos_embed
# (bicubic to the grid size), segmentation/configs/_base_/datasets/*.py (short side 448, slide
# 448/224), DinoCLIP.make_input_divisible (pad_stretch). apply_found (background head) only on VOC21 and COCO-Object (main_eval.py evaluate).
# head.checkpoint: the authors' released head weights (their layout is read as is, or convert
# with tools/model_converters/clip_dinoiser.py).
model = dict(
    clip=dict(pretrained='zoo://clip_vit-b16_laion2b-s34b-b88k'),
    encoder=dict(last_block='maskclip', pos_embed_interp='size'),
    head=dict(
        _delete_=True,
        type='DINOiserHead',
        feats_block=-3,
        corr_dim=256,
        corr_threshold=0.2,
        apply_background=False,
        delta=0.99,
        softmax_scale=100.0,
        checkpoint='zoo://clip_dinoiser_vit-b16',
    ),
    logit_scale=100.0,  # unused: the head returns probabilities (softmax_scale above)
    # make_input_divisible: black pixels at the right and bottom, map resized over the window.
    test_cfg=dict(crop_size=448, stride=224, patch_remainder='pad_stretch'),
)
