# CAT-Seg (L): OpenAI CLIP ViT-L/14@336px, as the authors' configs/vitl_336.yaml
# (KU-CVLAB/CAT-Seg): the ViT-B recipe with CLIP resolution 336 (native 24x24 grid), guidance
# blocks 7 and 15 and transposed convs from width 1024 (cat_seg_model.py), embed dim 768.
# vitl_336.yaml sets PROMPT_ENSEMBLE_TYPE "single" (config.yaml's "imagenet" is overridden).
_base_ = ['./catseg_vit-b16.py']
model = dict(
    clip=dict(model_name='ViT-L-14-336', pretrained='zoo://clip_vit-l14-336_openai'),
    clip_resolution=336,
    guidance_layers=(7, 15),
)
