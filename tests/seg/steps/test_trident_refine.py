"""Trident's SAM refinement (TridentSAMRefine): the coarse map's regions, the prompts SAM gets,
what is kept, and the step inside a TridentSegmentor."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.sam import SAMModel
from dense_clip.models.sam.coarse_refine import class_regions, refine_with_sam_prompts
from dense_clip.models.text import Vocabulary
from dense_clip.seg.steps import Prediction, StepContext, TridentSAMRefine


def test_regions_are_8_connected_filtered_by_area_and_probability():
    labels = torch.zeros(12, 12, dtype=torch.long)
    labels[1:3, 1:3] = 1  # 4 pixels
    labels[3, 3] = 1  # touches the block at a corner only: same region (8-connectivity)
    labels[8:11, 7:11] = 1  # 12 pixels, a second region
    labels[6, 0] = 1  # a single pixel: below the area limit
    labels[0:2, 9:12] = 2
    probs = torch.full((3, 12, 12), 0.1)
    probs[1, 9, 9] = 0.9  # the peak of the second region
    probs[1, 2, 2] = 0.7
    regions = class_regions(labels, probs, coarse_thresh=0.0, minimal_area=2)
    assert sorted(regions) == [0, 1, 2]
    ones = regions[1]
    assert len(ones) == 2
    assert ones.masks[0].sum() == 5 and ones.masks[1].sum() == 12  # raster order of labelling
    # torchvision's boxes: inclusive corners (x1, y1, x2, y2)
    assert ones.boxes.tolist() == [[1.0, 1.0, 3.0, 3.0], [7.0, 8.0, 10.0, 10.0]]
    assert ones.points.tolist() == [[2, 2], [9, 9]]  # (x, y) of each region's highest probability
    # a class whose top probability is below the threshold gets no region
    assert 2 not in class_regions(labels, probs, coarse_thresh=0.2, minimal_area=2)


def _scene(size=(40, 56), classes=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = F.interpolate(torch.randn(1, classes, 5, 7, generator=generator), size=size,
                           mode='bilinear', align_corners=False)[0]
    probs = (4 * logits).softmax(0)
    return probs.argmax(0, keepdim=True), probs


def _predictor(size):
    from segment_anything import SamPredictor

    torch.manual_seed(0)
    sam = SAMModel(tiny=True)
    predictor = SamPredictor(sam.ready())
    rgb = torch.randint(0, 256, (*size, 3), generator=torch.Generator().manual_seed(1),
                        dtype=torch.uint8).numpy()
    predictor.set_image(rgb)
    return predictor


def test_no_kept_mask_leaves_the_map_as_it_is():
    labels, probs = _scene()
    out_labels, out_scores = refine_with_sam_prompts(
        _predictor((48, 64)), labels, probs, coarse_thresh=0.2, minimal_area=4, iou_thresh=1e9)
    assert torch.equal(out_labels, labels) and torch.equal(out_scores, probs)


def test_kept_masks_rescore_their_classes_and_relabel():
    labels, probs = _scene()
    out_labels, scores = refine_with_sam_prompts(
        _predictor((48, 64)), labels, probs, coarse_thresh=0.0, minimal_area=4,
        iou_thresh=-1e9)
    assert scores.shape == probs.shape and out_labels.shape == labels.shape
    # each class's score is sigmoid(SAM logit) x its probability inside its masks: never above
    # the probability, 0 where no mask of the class lies
    assert (scores <= probs + 1e-6).all() and (scores >= 0).all()
    assert (scores == 0).any() and (scores > 0).any()
    covered = scores.sum(0, keepdim=True) > 0
    assert torch.equal(out_labels[covered], scores.argmax(0, keepdim=True)[covered])
    assert torch.equal(out_labels[~covered], labels[~covered])  # the coarse label stays


def _step_inputs(size=(40, 56)):
    labels, probs = _scene(size)
    ctx = StepContext(vocabulary=Vocabulary(['a', 'b', 'c']), text=torch.eye(3),
                      logit_scale=1.0, rgb=torch.randint(0, 256, (*size, 3), dtype=torch.uint8))
    return Prediction(probs=probs, labels=labels), ctx


def test_the_step_encodes_the_image_rounded_to_the_patch_and_refines(monkeypatch):
    from segment_anything import SamPredictor

    seen = []
    set_image = SamPredictor.set_image
    monkeypatch.setattr(SamPredictor, 'set_image',
                        lambda self, image: (seen.append(image.shape), set_image(self, image)))
    pred, ctx = _step_inputs(size=(40, 50))
    probs = pred.probs.clone()
    step = TridentSAMRefine(sam=dict(tiny=True), coarse_thresh=0.0, minimal_area=4,
                            iou_thresh=-1e9)
    out = step(pred, ctx)
    assert seen == [(48, 64, 3)]  # 40x50 rounded up to multiples of 16
    assert out.labels.shape == (1, 40, 50) and out.probs.shape == (3, 40, 50)
    assert not torch.equal(out.probs, probs) and (out.probs <= probs + 1e-6).all()


def test_the_step_needs_a_sam_the_image_and_every_class():
    pred, ctx = _step_inputs()
    with pytest.raises(ValueError, match='has no SAM'):
        TridentSAMRefine()(pred, ctx)
    step = TridentSAMRefine(sam=dict(tiny=True))
    with pytest.raises(ValueError, match='ctx.rgb'):
        step(pred, StepContext(vocabulary=ctx.vocabulary, text=ctx.text, logit_scale=1.0))
    top = Prediction(probs=pred.probs[:1], labels=pred.labels)
    with pytest.raises(ValueError, match="probs='full'"):
        step(top, ctx)


def test_trident_shares_its_sam_with_the_step():
    from dense_clip.seg.segmentors import TridentSegmentor
    from dense_clip.testing import TINY_VIT_CFG

    model = TridentSegmentor(
        clip=dict(model_cfg=TINY_VIT_CFG),
        encoder=dict(last_block=dict(type='proxyclip', proxy=dict(type='dino_vitb16',
                                                                     tiny=True))),
        text=dict(vocabulary=['a', 'b'], templates='single', cache_dir=False),
        sam=dict(tiny=True), steps=[dict(type='TridentSAMRefine')],
        test_cfg=dict(crop_size=64, stride=32))
    step = model.steps[0]
    assert step._sam() is model.sam
    assert not any('steps.0' in key for key in model.state_dict())  # SAM's weights once
