"""CAT-Seg against the authors' code: an authors'-layout checkpoint gives the authors' numbers.

``tests/data/regression/catseg_authors.safetensors`` holds outputs of the authors' own code
(KU-CVLAB/CAT-Seg, see ``provenance`` in ``catseg_authors.json``) for a tiny model whose weights
are ``dense_clip.testing.seeded_authors_catseg`` (seeded values on the authors' key layout, which
``authors_catseg_layout`` writes without their code). Here the same checkpoint goes through the
converter into :class:`CATSegSegmentor` and must reproduce, to float rounding: the whole-image
path (class padding to ``pad_len``), the sliding-window path (4 windows of 384 on 640x640 plus
the global view), the top-k path (more classes than ``pad_len``), the training loss and its
gradients (q/v fine-tuning of the CLIP, the aggregator).
"""

from __future__ import annotations

import json

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from safetensors.torch import load_file

from dense_clip.testing.catseg import AuthorsCATSegSizes, seeded_authors_catseg
from tests.conftest import REPO

DATA = REPO / 'tests' / 'data' / 'regression'
SPEC = json.loads((DATA / 'catseg_authors.json').read_text())
REF = load_file(DATA / 'catseg_authors.safetensors')
MEAN = torch.tensor([122.7709383, 116.7460125, 104.09373615])[:, None, None]
STD = torch.tensor([68.5005327, 66.6321579, 70.3231630])[:, None, None]


def sizes() -> AuthorsCATSegSizes:
    c, a = SPEC['clip'], SPEC['aggregator']
    return AuthorsCATSegSizes(
        embed_dim=c['embed_dim'], image_resolution=c['image_resolution'],
        vision_layers=c['vision_layers'], vision_width=c['vision_width'], patch=c['patch'],
        text_width=c['text_width'], text_layers=c['text_layers'], hidden_dim=a['hidden_dim'],
        num_layers=a['num_layers'], text_proj_dim=a['text_proj_dim'],
        appearance_proj_dim=a['appearance_proj_dim'], decoder_dims=tuple(a['decoder_dims']),
        decoder_guidance_dims=tuple(a['decoder_guidance_dims']),
        decoder_guidance_proj_dims=tuple(a['decoder_guidance_proj_dims']),
        window_size=a['window_size'])


@pytest.fixture(scope='module')
def segmentor(tmp_path_factory):
    init_default_scope('mmseg')
    from dense_clip.seg.catseg import CATSegSegmentor

    path = tmp_path_factory.mktemp('catseg') / 'model_tiny.pth'
    torch.save({'model': seeded_authors_catseg(sizes(), SPEC['seed']), 'iteration': 1}, path)
    c, a = SPEC['clip'], SPEC['aggregator']
    clip_cfg = dict(
        embed_dim=c['embed_dim'], quick_gelu=True,
        vision_cfg=dict(image_size=c['image_resolution'], patch_size=c['patch'],
                        width=c['vision_width'], layers=c['vision_layers'], head_width=64),
        text_cfg=dict(context_length=77, vocab_size=49408, width=c['text_width'],
                      heads=c['text_heads'], layers=c['text_layers']))
    aggregator = {k: (tuple(v) if isinstance(v, list) else v) for k, v in a.items()}
    model = CATSegSegmentor(
        clip=dict(model_cfg=clip_cfg), clip_resolution=24 * c['patch'], guidance_layers=(3, 7),
        guidance_dims=aggregator['decoder_guidance_dims'], aggregator=aggregator,
        text=dict(vocabulary=SPEC['test_classes']), weights=str(path))
    model.init_weights()
    return model.eval()


def set_pad_len(model, pad_len: int) -> None:
    model.catseg.aggregator.pad_len = pad_len
    for layer in model.catseg.aggregator.layers:
        layer.classes.pad_len = pad_len


@pytest.mark.parametrize('case', SPEC['cases'], ids=[c['name'] for c in SPEC['cases']])
def test_inference_matches_authors(segmentor, case):
    from mmseg.structures import SegDataSample

    set_pad_len(segmentor, case['pad_len'])
    segmentor.test_pooling = tuple(case['pooling'])
    segmentor.mode = case['mode']
    image = REF['image'].float()
    sample = SegDataSample(metainfo=dict(ori_shape=image.shape[-2:], img_shape=image.shape[-2:],
                                         vocabulary=case['classes']))
    probs = segmentor.predict(((image - MEAN) / STD)[None], [sample])[0].seg_logits.data
    expected = REF[case['name']]
    assert probs.shape == expected.shape
    torch.testing.assert_close(probs, expected, atol=2e-6, rtol=0)
    if case['name'] == 'whole_topk':  # the class left out by the top-k has sigmoid(-100)
        assert (probs.amax(dim=(1, 2)) < 1e-30).sum() == len(case['classes']) - case['pad_len']


def test_training_loss_and_gradients_match_authors(segmentor):
    from mmseg.structures import SegDataSample

    set_pad_len(segmentor, SPEC['train']['pad_len'])
    segmentor.train()
    try:
        images = (REF['train_images'].float() - MEAN) / STD
        samples = []
        for label in REF['train_labels'].long():
            sample = SegDataSample(metainfo=dict(vocabulary=SPEC['train_classes']))
            sample.gt_sem_seg = PixelData(data=label[None])
            samples.append(sample)
        segmentor.zero_grad()
        loss = segmentor.loss(images, samples)['loss_sem_seg']
        loss.backward()
    finally:
        segmentor.eval()
    torch.testing.assert_close(loss.detach().reshape(1), REF['train_loss'], atol=1e-6, rtol=0)
    width = SPEC['clip']['vision_width']
    last = segmentor.clip_model.visual.transformer.resblocks[-1].attn.in_proj_weight.grad
    torch.testing.assert_close(last[2 * width:2 * width + 16], REF['grad_v_last_16rows'],
                               atol=1e-8, rtol=1e-4)
    assert torch.count_nonzero(last[width:2 * width]) == 0  # k rows get no gradient
    torch.testing.assert_close(segmentor.catseg.aggregator.cost_embed.weight.grad,
                               REF['grad_cost_embed'], atol=1e-8, rtol=1e-4)
