# Zero-shot box classification (RegionCLIP's ground-truth-box protocol) on the synthetic
# detection set with the embedded tiny CLIP: ViT value-path dense map (MaskCLIP last block),
# 1x1 RoIAlign, cosine / 0.01 with a zero background embedding. No training, no download.
_base_ = [
    '../_base_/datasets/synthetic_detection.py',
    '../_base_/default_runtime_det.py',
]
model = dict(
    type='ZeroShotRegionDetector',
    clip=dict(model_name='dense_clip:tiny-clip-synth'),
    encoder=dict(last_block='maskclip', pos_embed_interp='size'),
    region=dict(output_size=1, sampling_ratio=0, aligned=True),
    # The caption templates the tiny CLIP was trained with (dense_clip.synthetic.world).
    text=dict(class_split=None,
              templates=['a photo of {}.', 'a picture of {}.', '{}.', 'an image of {}.']),
    classifier=dict(temperature=0.01, background='zero'),
    proposals='gt',
    test_cfg=dict(score_thr=0.001, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100),
)
