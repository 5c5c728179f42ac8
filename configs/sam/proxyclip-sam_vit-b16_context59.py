# ProxyCLIP on PASCAL Context 59, refined by SAM ViT-B's masks: the method's config plus
# one step (./_base_/sam_refine.py).
_base_ = ['../proxyclip/proxyclip_vit-b16_context59.py', './_base_/sam_refine.py']
model = dict(steps=_base_.model.steps + [_base_.sam_refine])
