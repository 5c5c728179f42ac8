# SCLIP on Cityscapes, refined by SAM ViT-B's masks: the method's config plus
# one step (./_base_/sam_refine.py).
_base_ = ['../sclip/sclip_vit-b16_cityscapes.py', './_base_/sam_refine.py']
model = dict(steps=_base_.model.steps + [_base_.sam_refine])
