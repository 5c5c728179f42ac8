# Open-vocabulary instance segmentation with SAM ViT-B's automatic masks (its own default
# settings, facebookresearch/segment-anything automatic_mask_generator.py) classified by mask
# pooling OpenAI CLIP ViT-B/16's MaskCLIP dense map (the value path CLIPSelf / F-ViT pool), one
# pass per image, 80 OpenAI ImageNet templates, CLIP's own logit scale 100. Instance score =
# class probability x SAM's predicted IoU. See configs/_base_/protocols.md, "Segment Anything".
model = dict(
    type='SAMInstanceSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='zoo://clip_vit-b16_openai', precision='fp32'),
    encoder=dict(last_block='maskclip', pos_embed_interp='size'),
    text=dict(vocabulary=None, templates='openai_imagenet'),
    generator=dict(
        type='SAMAutomaticMasks',
        sam=dict(model_type='vit_b', checkpoint='zoo://sam_vit_b'),
        points_per_side=32,
        pred_iou_thresh=0.88,
        stability_score_thresh=0.95,
        box_nms_thresh=0.7,
        crop_n_layers=0,
    ),
    logit_scale=100.0,
    score_thresh=0.0,
    score_mode='class_x_quality',
    max_per_img=100,
)
