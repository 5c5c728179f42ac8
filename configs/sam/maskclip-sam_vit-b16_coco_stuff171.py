# MaskCLIP on COCO-Stuff 171, refined by SAM ViT-B's masks: the method's config plus
# one step (./_base_/sam_refine.py).
_base_ = ['../maskclip/maskclip_vit-b16_coco_stuff171.py', './_base_/sam_refine.py']
model = dict(steps=_base_.model.steps + [_base_.sam_refine])
