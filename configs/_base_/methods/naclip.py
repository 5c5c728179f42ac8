# NACLIP: Hajimiri, Ben Ayed & Dolz, "Pay Attention to Your Neighbours", WACV 2025. ViT-B/16
# mIoU (VOC21/PC60/Object/VOC20/PC59/Stuff/City/ADE), with PAMR (this config):
# 64.1/35.0/36.2/83.0/38.4/25.7/38.3/19.1; no PAMR: 58.9/32.2/33.2/79.7/35.2/23.3/35.5/17.4.
_base_ = ['../models/ov_segmentor_vit-b16.py']
# sinahmr/NACLIP at its current version ("Update for v2", commit defb7c9): defaults of
# NACLIP.__init__ in naclip.py: arch='reduced' (no residual, no FFN), attn_strategy='naclip',
# gaussian_std=5., logit_scale=40, slide_crop=224, slide_stride=112, prob_thd=0.0,
# pamr_steps=10, pamr_stride=(8, 16). PAMR is ON unless eval.py gets --pamr off; the README's
# headline table is `test_all.sh reduced naclip 5 on`. postprocess_result divides the class
# probabilities by their sum after the threshold (Renormalise). 80 OpenAI templates;
# DINO-style positional-embedding interpolation and remainder dropping in clip/model.py.
# The no-PAMR variant is configs/naclip/naclip-nopamr_vit-b16_<benchmark>.py.
model = dict(
    encoder=dict(last_block=dict(_delete_=True, type='naclip', gaussian_std=5.0)),
    steps=[dict(type='PAMR', num_iter=10, dilations=(8, 16)), dict(type='Renormalise')],
)
