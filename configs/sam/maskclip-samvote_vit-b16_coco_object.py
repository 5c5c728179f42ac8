# A semantic map by mask voting: SAM ViT-B's automatic masks classified by mask pooling MaskCLIP's
# whole-image dense map (dense_clip.seg.steps.MaskClassify) and painted over MaskCLIP's own labels,
# on COCO-Object. The MaskCLIP config's protocol, but one whole-image pass (the step pools the
# whole image's features). Not a published protocol: see configs/_base_/protocols.md.
_base_ = ['../maskclip/maskclip_vit-b16_coco_object.py', './_base_/sam_refine.py']
model = dict(
    test_cfg=dict(mode='whole'),
    steps=_base_.model.steps + [
        dict(type='MaskClassify', generator=_base_.sam_refine.generator, uncovered='keep')],
)
