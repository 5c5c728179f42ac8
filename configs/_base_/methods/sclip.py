# SCLIP: Wang, Mei & Yuille, "SCLIP: Rethinking Self-Attention for Dense Vision-Language Inference",
# ECCV 2024. Reported mIoU, CLIP ViT-B/16 (VOC21/PC60/Object/VOC20/PC59/Stuff/City/ADE):
# 59.1 / 30.4 / 30.5 / 80.4 / 34.2 / 22.4 / 32.2 / 16.1. Protocol table: ../protocols.md.
_base_ = ['../models/ov_segmentor_vit-b16.py']
# Defaults of CLIPForSegmentation.__init__ in wangf3014/SCLIP clip_segmentor.py: logit_scale=40,
# slide_crop=224, slide_stride=112, prob_thd=0.0, area_thd=None, pamr_steps=0 (PAMR off); text
# from prompts/imagenet_template.py (the 80 OpenAI templates). clip/model.py interpolates the
# positional embeddings DINO-style (scale_factor=(g + 0.1) / 14) and lets the patch conv drop any
# remainder; logits are upsampled bilinearly to each window. All of these are the model base's
# values; per-benchmark values: cfg_*.py.
model = dict(encoder=dict(last_block='sclip'))
