# Training-free open-vocabulary segmentor on OpenAI's CLIP ViT-B/16 (dense_clip.OpenVocabSegmentor).
# Method configs set last_block and the protocol; benchmark bases set the vocabulary and data.
# Another backbone is a one-line change, e.g.
#   model = dict(clip=dict(model_name='ViT-L-14', pretrained='openai'))
#   model = dict(clip=dict(model_name='ViT-B-16', pretrained='laion2b_s34b_b88k'))
#   model = dict(clip=dict(model_name='ViT-B-16-quickgelu', pretrained='metaclip_400m'))
model = dict(
    type='OpenVocabSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai', precision='fp32'),
    last_block='vanilla',
    vocabulary='voc21',
    templates='openai_imagenet',
    pos_embed_interp='authors',
    logit_scale=40.0,
    prob_thresh=0.0,
    area_thresh=None,
    mode='slide',
    crop_size=224,
    stride=112,
    windows_per_batch=4,
    patch_remainder='drop',
    pamr=None,
)
