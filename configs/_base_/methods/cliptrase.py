# CLIPtrase: Shao et al., "Explore the Potential of CLIP for Training-Free Open Vocabulary Semantic
# Segmentation", ECCV 2024. Authors' README, ViT-B/16, 224 px centre crop, mIoU: VOC21 50.9,
# PC60 29.9, Obj 43.6, VOC20 81.0, PC59 33.8, Stuff 22.8, ADE 16.4, PC459 9.4, A847 6.3.
_base_ = ['../models/ov_segmentor_vit-b16.py']
# leaves162/CLIPtrase clip_self_correlation.py: one whole-image forward on a 224 px centre crop
# (torchvision Resize(224, BICUBIC) + CenterCrop(224), labels likewise with NEAREST); logits are
# cosine * clip.logit_scale.exp() (= 100) and argmax, no probability threshold; 80 OpenAI
# templates (configs/dataset_cfg.py prompt_templates). Its cluster vote (DBSCAN eps=0.7,
# min_samples=3 at 224 on the recalibrated self-correlation, median filter, majority vote) is the
# ClusterVote step; its VOC20 re-weighting by the CLS logits is ClsReweight (VOC20 config).
model = dict(
    encoder=dict(last_block='cliptrase'),
    logit_scale=100.0,
    steps=[dict(type='ClusterVote', eps=0.7, min_samples=3)],
    test_cfg=dict(mode='whole'),
)
# The centre crop replaces the benchmark's Resize and PackSegInputs (labels are loaded first so
# they are resized and cropped with the image). 'ori_shape' is left out of the packed meta keys
# so that the segmentor predicts at the crop's size, the size of the cropped labels.
centre_crop_steps = [
    dict(
        type='Resize', scale=(2048, 224), keep_ratio=True, backend='pillow', interpolation='bicubic'
    ),
    dict(type='CenterCrop', crop_size=224),
    dict(
        type='PackSegInputs',
        meta_keys=(
            'img_path',
            'seg_map_path',
            'img_shape',
            'pad_shape',
            'scale_factor',
            'flip',
            'flip_direction',
            'reduce_zero_label',
        ),
    ),
]
