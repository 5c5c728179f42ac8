# SAM refinement of a training-free map (dense_clip.seg.steps.SAMRefine): every mask of SAM ViT-B's
# automatic generator takes the majority label of the dense map inside it. Generator settings are
# SamAutomaticMaskGenerator's own defaults (facebookresearch/segment-anything
# automatic_mask_generator.py: 32 points per side, predicted IoU >= 0.88, stability >= 0.95, box
# NMS 0.7, no crop layers). Method configs append it to their steps:
#   model = dict(steps=_base_.model.steps + [_base_.sam_refine])
# See configs/_base_/protocols.md, "Segment Anything".
sam_refine = dict(
    type='SAMRefine',
    generator=dict(
        type='SAMAutomaticMasks',
        sam=dict(model_type='vit_b', checkpoint='zoo://sam_vit_b'),
        points_per_side=32,
        pred_iou_thresh=0.88,
        stability_score_thresh=0.95,
        box_nms_thresh=0.7,
        crop_n_layers=0,
    ),
    mode='majority',
)
