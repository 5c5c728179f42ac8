# CAT-Seg on the embedded tiny CLIP (dense_clip:tiny-clip-synth: 64 px, patch 8, width 128, two
# vision blocks, embed dim 128), sized for CPU training on the synthetic world. Differences from
# the authors' ViT-B/16 recipe (configs/_base_/protocols.md, CAT-Seg) and why:
# - CLIP resolution 64 (the tiny CLIP's native 8x8 grid; the authors upsample 384 crops for a
#   224-trained CLIP), window 4 (grid 8: a plain and a shifted 4x4 window, as 12 on 24);
# - both decoder stages guided by block 0 (the tower has only blocks 0 and 1; 1 is the dense one);
# - hidden 32, projections 32, decoder (16, 16) with guidance (16, 8) -> (8, 4), pad_len 32 (25
#   classes at most here): a width-128 CLIP and 64 px scenes need far less than the authors'
#   128/256 widths, and this trains at ~0.5 s per batch of 4 on one core;
# - the last block is MaskCLIP's (each token keeps its own residual), not the authors' CLS
#   residual: the tiny CLIP pools by averaging its patch tokens, and with the CLS residual the
#   cost volume loses the plain-texture classes (training-free: 32.0 mIoU / 16.7 unseen against
#   MaskCLIP's 36.9 / 29.1; after 500 iterations of training: 43.5 / 25.7 against 53.8 / 38.7);
# - the tiny CLIP's own caption templates (four cost channels) and the first name of each class.
model = dict(
    type='CATSegSegmentor',
    clip=dict(model_name='dense_clip:tiny-clip-synth'),
    clip_resolution=64,
    guidance_layers=(0, 0),
    guidance_dims=(16, 8),
    aggregator=dict(hidden_dim=32, num_layers=2, num_heads=4, window_size=4, pooling_size=(2, 2),
                    attention='linear', pad_len=32, text_proj_dim=32, appearance_proj_dim=32,
                    decoder_dims=(16, 16), decoder_guidance_dims=(16, 8),
                    decoder_guidance_proj_dims=(8, 4)),
    text=dict(vocabulary=None, train_vocabulary='synthetic_seen',
              templates=['a photo of {}.', 'a picture of {}.', '{}.', 'an image of {}.'],
              synonyms='first'),
    finetune='attention',
    last_block='maskclip',
    test_cfg=dict(mode='whole', size_divisor=1, pooling_size=(1, 1)),
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.7709383, 116.7460125, 104.09373615],
                           std=[68.5005327, 66.6321579, 70.3231630], bgr_to_rgb=True),
)
