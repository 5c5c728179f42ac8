"""Region embeddings (RoIAlign on the dense map, RegionCLIP's res5 path, mask pooling) and their
zero-shot classification, checked against independent references on tiny random CLIPs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align as tv_roi_align

from dense_clip.models.clip import CLIPDenseEncoder
from dense_clip.models.region import (
    RegionClassifier,
    RegionEncoder,
    check_boxes,
    clip_boxes,
    mask_pool,
)
from dense_clip.models.text import Vocabulary
from dense_clip.testing import tiny_clip_resnet, tiny_clip_vit


@pytest.fixture(scope='module')
def vit_pass():
    model = tiny_clip_vit(image_size=32, patch_size=8, seed=1)
    encoder = CLIPDenseEncoder(model, last_block='maskclip')
    torch.manual_seed(0)
    images = torch.randn(2, 3, 48, 64)
    with torch.no_grad():
        return encoder, encoder(images), images


def test_box_on_one_patch_is_that_patch_feature(vit_pass):
    encoder, out, _ = vit_pass
    region = RegionEncoder(encoder)  # 1x1, aligned, adaptive sampling
    # patch (row 2, col 5) of image 1 is pixels [40, 48) x [16, 24)
    emb = region(out, [torch.zeros(0, 4), torch.tensor([[40.0, 16.0, 48.0, 24.0]])], (48, 64),
                 allow_empty=True)
    expected = F.normalize(out.dense[1, :, 2, 5], dim=0)
    torch.testing.assert_close(emb[0], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('k,aligned', [(1, True), (1, False), (2, True), (3, False)])
def test_vit_regions_match_torchvision_roi_align(vit_pass, k, aligned):
    encoder, out, _ = vit_pass
    boxes = [torch.tensor([[0.0, 0.0, 20.0, 30.0], [13.5, 7.25, 60.0, 47.0]]),
             torch.tensor([[30.0, 2.0, 33.0, 40.0]])]
    emb = RegionEncoder(encoder, output_size=k, aligned=aligned)(out, boxes, (48, 64))
    feats = F.normalize(out.dense, dim=1)
    ref = tv_roi_align(feats, boxes, (k, k), 1 / 8, -1, aligned).mean(dim=(2, 3))
    torch.testing.assert_close(emb, ref, atol=1e-5, rtol=1e-5)


def test_vit_regions_keep_gradients_for_distillation():
    model = tiny_clip_vit(seed=2)
    encoder = CLIPDenseEncoder(model, last_block='maskclip', vanilla_cls=False)
    out = encoder(torch.randn(1, 3, 32, 32))
    emb = RegionEncoder(encoder)(out, [torch.tensor([[0.0, 0.0, 16.0, 16.0]])], (32, 32))
    emb.sum().backward()
    assert model.visual.transformer.resblocks[-1].attn.in_proj_weight.grad is not None


def test_resnet_regions_follow_regionclip_res5_and_attention_pool():
    model = tiny_clip_resnet(image_size=64, seed=3)  # attention-pool grid 2 -> RoIAlign 4x4
    visual = model.visual
    encoder = CLIPDenseEncoder(model)
    region = RegionEncoder(encoder)
    assert region.output_size == 4 and region.request.blocks == (3,)
    torch.manual_seed(1)
    images = torch.randn(2, 3, 96, 128)
    boxes = [torch.tensor([[4.0, 8.0, 70.0, 90.0]]),
             torch.tensor([[0.0, 0.0, 128.0, 96.0], [50.0, 20.0, 60.0, 44.0]])]
    with torch.no_grad():
        out = encoder(images, request=region.request)
        emb = region(out, boxes, (96, 128))
        c4 = visual.layer3(visual.layer2(visual.layer1(visual.stem(images))))
        crops = tv_roi_align(c4, boxes, (4, 4), 1 / 16, -1, True)
        ref = visual.attnpool(visual.layer4(crops))  # open_clip's own pool at its native grid
    torch.testing.assert_close(emb, ref, atol=1e-4, rtol=1e-4)


def test_resnet_regions_need_the_c4_map():
    encoder = CLIPDenseEncoder(tiny_clip_resnet())
    with torch.no_grad():
        out = encoder(torch.randn(1, 3, 64, 64))  # no request: no C4
    with pytest.raises(ValueError, match='no C4 map'):
        RegionEncoder(encoder)(out, [torch.tensor([[0.0, 0.0, 32.0, 32.0]])], (64, 64))


def test_mask_pool_is_the_mean_inside_each_mask(vit_pass):
    encoder, out, _ = vit_pass
    grid_masks = torch.zeros(3, 6, 8, dtype=torch.bool)
    grid_masks[0, 1:3, 2:6] = True
    grid_masks[1, 5, 7] = True
    grid_masks[2] = True
    masks = grid_masks.repeat_interleave(8, 1).repeat_interleave(8, 2)  # pixel masks, 48x64
    pooled = RegionEncoder(encoder).encode_masks(out, [masks[:2], masks[2:]], (48, 64))
    feats = F.normalize(out.dense, dim=1)
    for row, (image, m) in enumerate([(0, 0), (0, 1), (1, 2)]):
        ref = feats[image][:, grid_masks[m]].mean(dim=1)
        torch.testing.assert_close(pooled[row], ref, atol=1e-5, rtol=1e-5)


def test_mask_pool_weights_cells_by_covered_area():
    dense = torch.randn(1, 4, 2, 2)
    mask = torch.zeros(1, 4, 4)
    mask[0, 0:2, 0:2] = 1  # all of cell (0, 0)
    mask[0, 0, 2] = 1  # a quarter of cell (0, 1)
    pooled = mask_pool(dense, [mask], (4, 4), stride=2, normalize=False)
    ref = (dense[0, :, 0, 0] * 1.0 + dense[0, :, 0, 1] * 0.25) / 1.25
    torch.testing.assert_close(pooled[0], ref)


@pytest.mark.parametrize('boxes,fragment', [
    (torch.zeros(0, 4), 'empty'),
    (torch.tensor([[0.0, float('nan'), 4.0, 4.0]]), 'NaN'),
    (torch.tensor([[4.0, 4.0, 4.0, 9.0]]), 'zero or negative'),
    (torch.tensor([[1.0, 1.0, 9.0, 9.0], [10.0, 10.0, 80.0, 20.0]]), 'outside the 64x48 image'),
    (torch.tensor([[1.0, 2.0, 3.0]]), 'expected (N, 4)'),
])
def test_bad_boxes_are_named(vit_pass, boxes, fragment):
    encoder, out, _ = vit_pass
    with pytest.raises(ValueError, match='box') as info:
        RegionEncoder(encoder)(out, [boxes, torch.zeros(0, 4)], (48, 64))
    assert fragment in str(info.value)


def test_bad_masks_are_named(vit_pass):
    encoder, out, _ = vit_pass
    region = RegionEncoder(encoder)
    with pytest.raises(ValueError, match=r'shape \(2, 32, 32\).*\(M, 48, 64\)'):
        region.encode_masks(out, [torch.ones(2, 32, 32), torch.ones(0, 48, 64)], (48, 64))
    empty = torch.zeros(2, 48, 64)
    empty[0, :8, :8] = 1
    with pytest.raises(ValueError, match='mask 1 of image 0 is empty'):
        region.encode_masks(out, [empty, torch.ones(0, 48, 64)], (48, 64))


def test_check_and_clip_boxes():
    boxes = torch.tensor([[-0.5, 0.0, 10.0, 10.0]])
    assert torch.equal(check_boxes(boxes, (20, 20)), boxes)  # within the 1 px tolerance
    clipped, keep = clip_boxes(torch.tensor([[-5.0, 2.0, 30.0, 8.0], [25.0, 0.0, 40.0, 5.0],
                                             [float('nan'), 0.0, 3.0, 3.0]]), (10, 20))
    assert clipped[0].tolist() == [0.0, 2.0, 20.0, 8.0]
    assert keep.tolist() == [True, False, False]


def test_classifier_zero_background_and_synonyms():
    vocabulary = Vocabulary(['cat, kitten', 'dog'])
    text = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), dim=1)
    emb = torch.tensor([[0.0, 2.0], [3.0, 0.1]])
    pred = RegionClassifier(temperature=0.5)(emb, text, vocabulary)
    logits = F.normalize(emb, dim=1) @ text.T / 0.5
    probs = torch.cat([logits, torch.zeros(2, 1)], 1).softmax(1)
    expected = torch.stack([probs[:, :2].max(1).values, probs[:, 2]], 1)
    torch.testing.assert_close(pred.probs, expected)
    torch.testing.assert_close(pred.background, probs[:, 3])
    assert pred.labels.tolist() == [0, 0]  # 'kitten' is the best synonym of row 0
    strict = RegionClassifier(temperature=0.5, background='none', score_thresh=0.99)
    assert strict(emb, text, vocabulary).labels.tolist() == [-1, -1]
    with pytest.raises(ValueError, match='3 synonyms'):
        RegionClassifier()(emb, text[:2], vocabulary)
    with pytest.raises(ValueError, match='background must be one of'):
        RegionClassifier(background='learned')
