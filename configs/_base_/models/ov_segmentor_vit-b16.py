# The open-vocabulary segmentor (dense_clip.seg.OpenVocabSegmentor) on OpenAI's CLIP ViT-B/16.
# Method bases set the last block, the head, the steps and the protocol; benchmark bases set the
# data and `classnames`, which the tools use as the vocabulary (model.text.vocabulary=None).
# Weights come by name from the model zoo (MODEL_ZOO.md, tools/download.py); an open_clip tag or a
# checkpoint file works too. Another backbone is a one-line change, e.g.
#   model = dict(clip=dict(model_name='ViT-L-14', pretrained='zoo://clip_vit-l14_openai'))
#   model = dict(clip=dict(model_name='ViT-L-14', pretrained='openai'))  # open_clip's download
#   model = dict(clip=dict(model_name='ViT-B-16', pretrained='laion2b_s34b_b88k'))
#   model = dict(clip=dict(model_name='ViT-B-16-quickgelu', pretrained='metaclip_400m'))
model = dict(
    type='OpenVocabSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='zoo://clip_vit-b16_openai', precision='fp32'),
    encoder=dict(last_block='vanilla', pos_embed_interp='authors'),
    text=dict(vocabulary=None, templates='openai_imagenet'),
    head=dict(type='CosineHead'),
    steps=[],
    logit_scale=40.0,
    prob_thresh=0.0,
    area_thresh=None,
    test_cfg=dict(mode='slide', crop_size=224, stride=112, windows_per_batch=4,
                  patch_remainder='drop'),
)
