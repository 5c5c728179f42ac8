"""The authors' behaviour on crafted inputs, where it is easy to get wrong.

CLIP-DINOiser (wysoczanska/clip_dinoiser ``models/clip_dinoiser/clip_dinoiser.py``,
``segmentation/evaluation/clip_dinoiser_eval.py``): softmax(100 cos) on the patch grid, then the
probabilities are upsampled; the background rule sets a probability; windows are padded with
black pixels at the right and bottom and the padded grid's map is stretched over the window.
NACLIP (sinahmr/NACLIP since commit defb7c9): whole-image VOC protocols, probabilities
renormalised after the threshold.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.config import Config

from dense_clip.models.text import reduce_synonyms
from dense_clip.testing import tiny_segmentor
from tests.conftest import REPO

VOCAB = dict(classnames=['red square', 'green disc, green circle'], background='sky')


def dinoiser(**head):
    model = tiny_segmentor(text=dict(vocabulary=VOCAB),
                           head=dict(type='DINOiserHead', corr_dim=8, feats_block=0, **head),
                           test_cfg=dict(mode='whole', patch_remainder='pad_stretch'))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def expected_patch_probs(model, padded: torch.Tensor) -> torch.Tensor:
    """softmax(100 cos) of the refined MaskCLIP features, written out from the definition."""
    text = model.text_embeddings(model.vocabulary)
    dense = model.encoder(padded, request=model.head.request)
    inter = model.head.features(dense)
    proj = F.normalize(model.head.corr_head.conv(inter).flatten(2), dim=1)
    corr = proj.transpose(1, 2) @ proj
    corr = corr.masked_fill(corr < 0.2, 0.0)
    feats = dense.dense.flatten(2)
    refined = (feats @ corr.transpose(1, 2)) / (corr.sum(-1)[:, None] + 1e-6)
    cos = torch.einsum('ndp,sd->nsp', F.normalize(refined, dim=1), text)
    return (100 * cos).softmax(1).reshape(1, -1, *dense.grid)


@torch.no_grad()
def test_dinoiser_pads_black_right_and_bottom_and_stretches_the_padded_grid():
    model = dinoiser()
    window = torch.randn(1, 3, 24, 36)  # width 36 = 4.5 patches of 8
    black = (-model.data_preprocessor.mean / model.data_preprocessor.std).reshape(1, 3, 1, 1)
    padded = black.expand(1, 3, 24, 40).clone()
    padded[..., :36] = window
    patch = model.window_scores(window, upsample=False)
    assert patch.scores.shape[-2:] == (3, 5)  # the padded grid, not 3 x 4
    expected = expected_patch_probs(model, padded)
    torch.testing.assert_close(patch.scores, expected, rtol=1e-5, atol=1e-6)
    full = model.window_scores(window).scores
    torch.testing.assert_close(full, F.interpolate(expected, size=(24, 36), mode='bilinear',
                                                   align_corners=False), rtol=1e-5, atol=1e-6)


@torch.no_grad()
def test_dinoiser_windows_average_probabilities_not_cosines():
    model = dinoiser()
    model.mode, model.crop_size, model.stride = 'slide', (24, 24), (16, 16)
    image = torch.randn(1, 3, 24, 40)  # two windows overlapping by 8 columns
    first = model.window_scores(image[..., :24]).scores
    second = model.window_scores(image[..., 16:]).scores
    total = torch.zeros(1, 4, 24, 40)
    count = torch.zeros(1, 1, 24, 40)
    for x1, scores in ((0, first), (16, second)):
        total[..., x1:x1 + 24] += scores
        count[..., x1:x1 + 24] += 1
    probs = model.predict(image)[0].seg_logits.data
    torch.testing.assert_close(probs, reduce_synonyms(total / count, model.vocabulary)[0])


@torch.no_grad()
def test_dinoiser_background_rule_sets_a_probability_and_keeps_the_others():
    model = dinoiser(apply_background=True)
    window = torch.randn(1, 3, 32, 32)
    fires = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    fires[..., :2, 1:3] = True  # the background head says "background" on these cells
    model.head.bkg_head.forward = lambda feats: torch.where(fires, -5.0, 5.0)
    with_rule = model.window_scores(window, upsample=False).scores
    model.head.apply_background = False
    without = model.window_scores(window, upsample=False).scores
    uncertain = reduce_synonyms(without, model.vocabulary).amax(1, keepdim=True) < 0.99
    override = fires & uncertain
    assert override.any() and (~override).any()
    assert torch.all(with_rule[:, :1][override] == 1.0)  # background probability set to 1
    keep = ~override.expand_as(with_rule).clone()
    keep[:, 1:] = True  # every other class keeps its probability everywhere
    assert torch.equal(with_rule[keep], without[keep])


@torch.no_grad()
def test_naclip_renormalises_after_the_threshold():
    model = tiny_segmentor(text=dict(vocabulary=['cat, kitten', 'dog', 'sky', 'road']),
                           steps=[dict(type='Renormalise')], prob_thresh=0.6,
                           logit_scale=1.0, test_cfg=dict(mode='whole'))
    image = torch.randn(1, 3, 32, 32)
    out = model.predict(image)[0]
    probs, labels = out.seg_logits.data, out.pred_sem_seg.data
    name_probs = model.window_scores(image).scores.softmax(1)  # logit scale 1
    per_class = reduce_synonyms(name_probs, model.vocabulary)[0]
    assert (per_class.max(0).values < 0.6).all()  # every pixel is below the threshold ...
    assert (labels == 0).all()  # ... so every label is class 0
    torch.testing.assert_close(probs, per_class / per_class.sum(0, keepdim=True))
    torch.testing.assert_close(probs.sum(0), torch.ones(32, 32))


def test_naclip_configs_follow_the_authors_current_protocol():
    def model_of(name):
        return Config.fromfile(REPO / 'configs' / 'naclip' / name).model

    for name in ('naclip_vit-b16_voc21.py', 'naclip-nopamr_vit-b16_voc21.py',
                 'naclip_vit-b16_voc20.py', 'naclip-nopamr_vit-b16_voc20.py'):
        assert model_of(name).test_cfg.mode == 'whole', name
    for name in ('naclip_vit-b16_context60.py', 'naclip_vit-b16_coco_object.py',
                 'naclip_vit-b16_ade150.py'):
        assert model_of(name).test_cfg.mode == 'slide', name
    assert [s['type'] for s in model_of('naclip_vit-b16_ade150.py').steps] == ['PAMR',
                                                                               'Renormalise']
    assert [s['type'] for s in model_of('naclip-nopamr_vit-b16_ade150.py').steps] == [
        'Renormalise']
    stuff = Config.fromfile(REPO / 'configs' / 'naclip' / 'naclip_vit-b16_coco_stuff171.py')
    resize = next(t for t in stuff.test_dataloader.dataset.pipeline if t.type == 'Resize')
    assert resize.scale == (2048, 336)
