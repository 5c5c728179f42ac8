"""The CAT-Seg configs carry the authors' settings (vitb_384.yaml, vitl_336.yaml, config.yaml,
eval.sh) and their vocabularies fit their datasets."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from dense_clip.engine import apply_dataset_vocabulary
from dense_clip.models.text import build_vocabulary
from dense_clip.testing import TINY_CATSEG_AGGREGATOR, shrink_model_config
from tests.conftest import REPO

BENCHMARKS = ['ade847', 'context459', 'ade150', 'context59', 'voc20', 'voc20b']
BACKBONES = {'vit-b16': (384, (3, 7), 'ViT-B-16', 'b16'),
             'vit-l14-336': (336, (7, 15), 'ViT-L-14-336', 'l14')}
EVAL = [(b, n) for b in BACKBONES for n in BENCHMARKS]


def load(name: str) -> Config:
    cfg = Config.fromfile(str(REPO / 'configs' / 'catseg' / name))
    return apply_dataset_vocabulary(cfg)


@pytest.mark.parametrize('backbone, bench', EVAL, ids=[f'{b}_{n}' for b, n in EVAL])
def test_benchmark_configs_follow_the_authors(backbone, bench):
    cfg = load(f'catseg_{backbone}_{bench}.py')
    resolution, guidance, clip_name, size = BACKBONES[backbone]
    model = cfg.model
    # OpenAI's CLIP and the authors' checkpoint, both through the zoo
    assert model.clip == dict(model_name=clip_name, pretrained=f'zoo://clip_{backbone}_openai')
    assert model.weights == f'zoo://catseg_vit-{size}'
    assert model.clip_resolution == resolution and tuple(model.guidance_layers) == guidance
    agg = model.aggregator
    assert (agg.hidden_dim, agg.num_layers, agg.num_heads, agg.window_size, agg.pad_len) == \
        (128, 2, 4, 12, 256)
    assert tuple(agg.decoder_dims) == (64, 32) and tuple(agg.decoder_guidance_dims) == (256, 128)
    assert model.text.templates == 'catseg' and model.finetune == 'attention'
    assert model.test_cfg.mode == 'slide' and tuple(model.test_cfg.pooling_size) == (1, 1)
    assert tuple(model.test_cfg.slide_size) == (640, 640) and model.test_cfg.crop_size == 384
    resize = cfg.test_dataloader.dataset.pipeline[1]
    assert resize == dict(type='Resize', scale=(2560, 640), keep_ratio=True, backend='pillow')
    assert cfg.val_dataloader.dataset.pipeline == cfg.test_dataloader.dataset.pipeline
    vocabulary = build_vocabulary(model.text.vocabulary)
    assert vocabulary.num_classes == cfg.num_classes
    if bench == 'voc20b':
        assert model.text.synonyms == 'all' and len(vocabulary.class_synonyms[0]) == 39
    else:
        assert model.text.synonyms == 'first'


@pytest.mark.parametrize('backbone', BACKBONES)
def test_training_configs_follow_the_authors(backbone):
    cfg = load(f'catseg_{backbone}_80k_coco-stuff171-384.py')
    assert cfg.train_dataloader.batch_size == 4 and cfg.train_cfg.max_iters == 80000
    optim = cfg.optim_wrapper
    assert optim.optimizer == dict(type='AdamW', lr=2e-4, weight_decay=1e-4)
    assert optim.clip_grad == dict(max_norm=0.01, norm_type=2)
    assert optim.paramwise_cfg.custom_keys['clip_model'] == dict(lr_mult=0.01)
    scheduler = cfg.param_scheduler[0]
    assert scheduler.type == 'CosineAnnealingLR' and scheduler.end == 80000
    steps = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert steps == ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomCrop',
                     'PhotoMetricDistortion', 'RandomFlip', 'Pad', 'PackSegInputs']
    assert build_vocabulary(cfg.model.text.vocabulary).num_classes == 171


def test_whole_image_variants():
    for backbone in BACKBONES:
        assert load(f'catseg_{backbone}_ade150-whole.py').model.test_cfg.mode == 'whole'


def test_voc20b_config_runs_shrunk():
    """One forward of the PAS-20b config (59 names in 21 classes) on a tiny CLIP."""
    cfg = load('catseg_vit-b16_voc20b.py')
    import_modules_from_strings(**cfg.custom_imports)
    init_default_scope('mmseg')
    from mmseg.registry import MODELS

    model_cfg = shrink_model_config(cfg.model)
    model_cfg.update(clip_resolution=64, guidance_layers=(0, 1), guidance_dims=(8, 8),
                     aggregator=dict(TINY_CATSEG_AGGREGATOR))
    model_cfg.test_cfg.update(slide_size=(80, 80), crop_size=48)
    model = MODELS.build(model_cfg).eval()
    out = model.predict(torch.randn(1, 3, 40, 60))[0]
    assert out.seg_logits.data.shape == (21, 40, 60)
    names, _ = model.text_embeddings(model.vocabulary_of({}))
    assert names.shape[0] == 59
