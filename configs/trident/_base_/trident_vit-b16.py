# Trident: Shi, Dong & Xu, "Harnessing Vision Foundation Models for High-Performance,
# Training-Free Open Vocabulary Segmentation", ICCV 2025. Reported mIoU, CLIP ViT-B/16
# (VOC21/PC60/Object/VOC20/PC59/Stuff/City/ADE): 67.1 / 38.6 / 41.1 / 84.5 / 42.2 / 28.3 / 42.9 /
# 21.9. Settings from YuHengsss/Trident configs/base_config.py and trident.py: OpenAI ViT-B/16
# (fp16 there, fp32 here), ProxyCLIP's last block with a DINO ViT-B/16 proxy
# (torch.hub 'dino_vitb16'), beta=1.2 (times the mean similarity over all windows), gamma=3.0,
# windows slide_crop=336 / slide_stride=224, logit_scale=40, prob_thd=0.0, 80 OpenAI templates,
# DINO-style pos-embed interpolation; SAM ViT-B (sam_model_type='vit_b'), cos_fac=1.2,
# refine_neg_cos=True. Per-benchmark values: configs/cfg_*.py. Departures:
# configs/_base_/protocols.md, "Trident".
_base_ = ['../../_base_/models/ov_segmentor_vit-b16.py']
model = dict(
    type='TridentSegmentor',
    encoder=dict(
        last_block=dict(
            _delete_=True,  # base: a name string
            type='proxyclip',
            proxy=dict(type='dino_vitb16', checkpoint='zoo://dino_vitb16'),
            beta=1.2,
            gamma=3.0,
            batch_mean=True,  # custom_attn: torch.mean over the batch of all windows
        )
    ),
    sam=dict(model_type='vit_b', checkpoint='zoo://sam_vit_b'),
    cos_fac=1.2,
    refine_neg_cos=True,
    split_halves=False,
    logit_scale=40.0,
    test_cfg=dict(crop_size=336, stride=224),
)
