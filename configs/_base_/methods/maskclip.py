# MaskCLIP: Zhou, Loy & Dai, "Extract Free Dense Labels from CLIP", ECCV 2022. ViT-B/16 as
# re-evaluated by later work (VOC21/PC60/Object/VOC20/PC59/Stuff/City/ADE):
# 43.4 / 23.2 / 20.6 / 74.9 / 26.4 / 16.7 / 24.9 / 11.9. No key smoothing, no prompt denoising.
_base_ = ['../models/ov_segmentor_vit-b16.py']
# No public config reproduces these numbers: SCLIP's and NACLIP's code have no MaskCLIP path, and
# ClearCLIP's (model_type='MaskCLIP' with its default ignore_residual=True) drops the residual and
# FFN. We run the original ViT recipe (identity attention, residual and FFN kept; chongzhou96/
# MaskCLIP MaskClipHead / volgachen/MaskCLIP configs/_base_/models/maskclip_vit16.py) with its 85
# templates (tools/maskclip_utils/prompt_engineering.py) under the SCLIP/NACLIP protocol that the
# re-evaluations share (the model base's): 224/112 windows, logit scale 40, DINO-style positional
# embeddings.
model = dict(encoder=dict(last_block='maskclip'), text=dict(templates='maskclip'))
