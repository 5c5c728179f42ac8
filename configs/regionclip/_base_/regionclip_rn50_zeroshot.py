# RegionCLIP zero-shot inference (microsoft/RegionCLIP CLIP_fast_rcnn_R_50_C4_ovd_zsinf.yaml):
# regions from RoIAlign 14x14 on CLIP RN50's C4 map, CLIP's own res5 + attention pool, cosine to
# the class embeddings / 0.01 with a zero background embedding. Weights: the authors'
# regionclip_pretrained-cc_rn50.pth from the zoo (placed by hand, converted once on first use).
model = dict(
    type='ZeroShotRegionDetector',
    clip=dict(model_name=None, pretrained='zoo://regionclip_rn50_cc'),
    encoder=dict(last_block='maskclip', pos_embed_interp='size'),
    region=dict(output_size=None, sampling_ratio=0, aligned=True),  # 14x14, ROIAlignV2
    text=dict(vocabulary=None, class_split=None, templates='regionclip', prompt_style='clip'),
    classifier=dict(temperature=0.01, background='zero'),  # MODEL.CLIP.CLSS_TEMP
    proposals='gt',  # CROP_REGION_TYPE: GT
    test_cfg=dict(score_thr=0.001, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                  proposal_score='none'),
)
