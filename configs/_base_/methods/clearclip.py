# ClearCLIP: Lan et al., "ClearCLIP: Decomposing CLIP Representations for Dense Vision-Language
# Inference", ECCV 2024. The paper's ViT-B/16 row (VOC21/PC60/Object/VOC20/PC59/Stuff/City/ADE):
# 51.8 / 32.6 / 33.0 / 80.9 / 35.9 / 23.9 / 30.0 / 16.7.
_base_ = ['../models/ov_segmentor_vit-b16.py']
# Defaults of ClearCLIPSegmentation.__init__ in mc-lan/ClearCLIP clearclip_segmentor.py:
# logit_scale=50, slide_crop=448, slide_stride=224, prob_thd=0.0, ignore_residual=True; no PAMR;
# 80 OpenAI templates. Windows whose side is not a multiple of 16 are zero-padded evenly and the
# logits cropped back (compute_padsize); open_clip/transformer.py interpolates the positional
# embeddings DINO-style. NB configs/base_config.py there sets model_type='vanilla': the ClearCLIP
# numbers need model_type='ClearCLIP' (q-q attention), which last_block='clearclip' is.
# Test resize: short side 448 on every benchmark (cfg_*.py), so benchmark files override it.
model = dict(
    encoder=dict(last_block='clearclip'),
    logit_scale=50.0,
    test_cfg=dict(crop_size=448, stride=224, patch_remainder='pad'),
)
