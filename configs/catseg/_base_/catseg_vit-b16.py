# CAT-Seg (B): OpenAI CLIP ViT-B/16 at 384 px (Cho et al., CVPR 2024). Every size from the
# authors' configs/vitb_384.yaml (KU-CVLAB/CAT-Seg), the constants their code fixes from
# cat_seg/cat_seg_model.py (CLIP resolution 384, guidance blocks 3 and 7, transposed convs to 256
# and 128 channels), the Aggregator's pad_len default (256), and the evaluation of eval.sh
# (sliding window, class-aggregation pooling 1x1). Departures: configs/_base_/protocols.md.
model = dict(
    type='CATSegSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='zoo://clip_vit-b16_openai'),  # "ViT-B/16"
    clip_resolution=384,
    guidance_layers=(3, 7),
    guidance_dims=(256, 128),  # DECODER_GUIDANCE_DIMS
    aggregator=dict(
        hidden_dim=128,  # HIDDEN_DIMS
        num_layers=2,  # NUM_LAYERS (vitb_384.yaml; config.yaml's 4 is overridden)
        num_heads=4,  # NUM_HEADS
        window_size=12,  # WINDOW_SIZES
        pooling_size=(2, 2),  # POOLING_SIZES (training)
        attention='linear',  # ATTENTION_TYPE
        pad_len=256,  # Aggregator(pad_len=256)
        text_proj_dim=128,  # TEXT_GUIDANCE_PROJ_DIM
        appearance_proj_dim=128,  # APPEARANCE_GUIDANCE_PROJ_DIM
        decoder_dims=(64, 32),  # DECODER_DIMS
        decoder_guidance_dims=(256, 128),  # DECODER_GUIDANCE_DIMS
        decoder_guidance_proj_dims=(32, 16),  # DECODER_GUIDANCE_PROJ_DIMS
    ),
    # PROMPT_ENSEMBLE_TYPE: "single", first alias of each class
    text=dict(vocabulary=None, train_vocabulary=None, templates='catseg', synonyms='first'),
    finetune='attention',  # CLIP_FINETUNE: "attention"
    last_block='CATSegDense',  # model_vpt.py forward_dense
    weights=None,  # e.g. the authors' model_base.pth (converted on load)
    test_cfg=dict(mode='slide', slide_size=(640, 640), crop_size=384, overlap=0.333,
                  global_view=True, pooling_size=(1, 1), size_divisor=32),
    data_preprocessor=dict(type='SegDataPreProcessor',
                           mean=[122.7709383, 116.7460125, 104.09373615],  # CLIP_PIXEL_MEAN
                           std=[68.5005327, 66.6321579, 70.3231630],  # CLIP_PIXEL_STD
                           bgr_to_rgb=True),
)
# Test-time resize of the authors' evaluation: short side 640, long side <= 2560
# (MIN_SIZE_TEST / MAX_SIZE_TEST), with PIL's bilinear resize as detectron2's ResizeShortestEdge.
catseg_resize = dict(type='Resize', scale=(2560, 640), keep_ratio=True, backend='pillow')
