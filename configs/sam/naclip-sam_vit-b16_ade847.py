# NACLIP (PAMR) on ADE20K 847, refined by SAM ViT-B's masks: the method's config plus
# one step (./_base_/sam_refine.py).
_base_ = ['../naclip/naclip_vit-b16_ade847.py', './_base_/sam_refine.py']
model = dict(steps=_base_.model.steps + [_base_.sam_refine])
