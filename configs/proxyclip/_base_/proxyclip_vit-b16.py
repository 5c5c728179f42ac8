# ProxyCLIP: Lan et al., "ProxyCLIP: Proxy Attention Improves CLIP for Open-Vocabulary
# Segmentation", ECCV 2024. ViT-B/16 + DINO ViT-B/8 mIoU (VOC21/PC60/Object/VOC20/PC59/Stuff/
# City/ADE): 61.3 / 35.3 / 37.5 / 80.3 / 39.1 / 26.5 / 38.1 / 20.2.
_base_ = ['../../_base_/models/ov_segmentor_vit-b16.py']
# Defaults of ProxyCLIPSegmentation in mc-lan/ProxyCLIP proxyclip_segmentor.py and
# configs/base_config.py: OpenAI ViT-B/16 (fp16 there, fp32 here), vfm_model='dino' = dino_vitb8
# (final-normed last-layer tokens), beta=1.2, gamma=3.0, logit_scale=40, slide_crop=336,
# slide_stride=112, prob_thd=0.0, 80 OpenAI templates, DINO-style pos-embed interpolation.
# Windows are zero-padded to a multiple of 56 there; 336 and 224 windows already are, so
# patch_remainder has no effect on these protocols.
model = dict(
    encoder=dict(
        last_block=dict(
            _delete_=True,  # base: a name string
            type='proxyclip',
            proxy=dict(type='dino_vitb8', checkpoint='zoo://dino_vitb8'),
            beta=1.2,
            gamma=3.0,
        )
    ),
    test_cfg=dict(crop_size=336, stride=112),
)
