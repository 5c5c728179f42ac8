# The open-vocabulary segmentor on the embedded tiny CLIP (dense_clip:tiny-clip-synth, trained by
# tools/train_tiny_clip.py on the synthetic world; no download). 64 px input = its native 8x8 grid.
model = dict(
    type='OpenVocabSegmentor',
    clip=dict(model_name='dense_clip:tiny-clip-synth'),
    encoder=dict(last_block='vanilla', pos_embed_interp='size'),
    # The caption templates the tiny CLIP was trained with (dense_clip.synthetic.world).
    text=dict(vocabulary=None,
              templates=['a photo of {}.', 'a picture of {}.', '{}.', 'an image of {}.']),
    head=dict(type='CosineHead'),
    steps=[],
    logit_scale=100.0,
    prob_thresh=0.0,
    test_cfg=dict(mode='whole', patch_remainder='pad'),
)
