# CAT-Seg on the embedded tiny CLIP (dense_clip:tiny-clip-synth: 64 px, patch 8, width 128, two
# vision blocks, embed dim 128), sized for CPU training on the synthetic world. Differences from
# the authors' ViT-B/16 recipe (configs/_base_/protocols.md, CAT-Seg) and why:
# - CLIP resolution 64 (the tiny CLIP's native 8x8 grid; the authors upsample 384 crops for a
#   224-trained CLIP), window 4 (grid 8: a plain and a shifted 4x4 window as 12 on 24);
# - both decoder stages guided by block 0 (the tower has only blocks 0 and 1; 1 is the dense one);
# - hidden 64, projections 64, decoder (32, 16) with guidance (32, 16) -> (16, 8), pad_len 64
#   (at most 54 names here): a width-128 CLIP does not need the authors' 128/256 widths;
# - the tiny CLIP's own caption templates, and every synonym as a class (a class scores the max
#   over its names; the background is a list of materials).
model = dict(
    type='CATSegSegmentor',
    clip=dict(model_name='dense_clip:tiny-clip-synth'),
    clip_resolution=64,
    guidance_layers=(0, 0),
    guidance_dims=(32, 16),
    aggregator=dict(hidden_dim=64, num_layers=2, num_heads=4, window_size=4, pooling_size=(2, 2),
                    attention='linear', pad_len=64, text_proj_dim=64, appearance_proj_dim=64,
                    decoder_dims=(32, 16), decoder_guidance_dims=(32, 16),
                    decoder_guidance_proj_dims=(16, 8)),
    text=dict(vocabulary=None, train_vocabulary='synthetic_seen',
              templates=['a photo of {}.', 'a picture of {}.', '{}.', 'an image of {}.'],
              synonyms='all'),
    finetune='attention',
    last_block='CATSegDense',
    test_cfg=dict(mode='whole', size_divisor=1, pooling_size=(1, 1)),
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.7709383, 116.7460125, 104.09373615],
                           std=[68.5005327, 66.6321579, 70.3231630], bgr_to_rgb=True),
)
