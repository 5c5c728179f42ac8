"""SAM steps: masks vote the dense labels (SAMRefine) or are classified and painted
(MaskClassify); the segmentor hands steps the RGB image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dense_clip.models.masks import MaskGenerator, MaskProposals
from dense_clip.models.text import Vocabulary
from dense_clip.seg.steps import Prediction, SAMRefine, SegStep, StepContext
from dense_clip.testing import tiny_segmentor


class FixedMasks(MaskGenerator):
    """Returns the same proposals whatever the image (records the image it was given)."""

    def __init__(self, proposals: MaskProposals) -> None:
        super().__init__()
        self.proposals = proposals
        self.seen: list = []

    def forward(self, image):
        self.seen.append(image)
        return self.proposals


def _prediction() -> tuple[Prediction, StepContext]:
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[0, :, 4:] = 2
    labels[0, 1, 1] = 1  # noise in the left half
    labels[0, 6, 6] = 1  # noise in the right half
    probs = torch.nn.functional.one_hot(labels[0], 3).permute(2, 0, 1).float()
    ctx = StepContext(vocabulary=Vocabulary(['a', 'b', 'c']), text=torch.eye(3), logit_scale=1.0,
                      rgb=torch.zeros(8, 8, 3, dtype=torch.uint8))
    return Prediction(probs=probs, labels=labels), ctx


def _halves(scores=(0.9, 0.95)) -> MaskProposals:
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, :, :4] = True
    masks[1, :, 4:] = True
    return MaskProposals.from_masks(masks, torch.tensor(scores))


def test_each_mask_takes_its_majority_label():
    pred, ctx = _prediction()
    step = SAMRefine(generator=FixedMasks(_halves()))
    out = step(pred, ctx).labels[0]
    assert (out[:, :4] == 0).all() and (out[:, 4:] == 2).all()
    assert step.generator.seen[0] is ctx.rgb
    assert step.stage == 'labels' and step.needs_rgb


def test_unconfident_and_huge_masks_do_not_vote_and_no_mask_changes_nothing():
    pred, ctx = _prediction()
    before = pred.labels.clone()
    out = SAMRefine(generator=FixedMasks(_halves((0.5, 0.95))), min_score=0.8)(pred, ctx)
    assert out.labels[0, 1, 1] == 1 and out.labels[0, 6, 6] == 2  # only the right half voted
    pred, ctx = _prediction()
    whole = MaskProposals.from_masks(torch.ones(1, 8, 8, dtype=torch.bool))
    assert torch.equal(SAMRefine(generator=FixedMasks(whole), max_area=0.9)(pred, ctx).labels,
                       before)
    pred, ctx = _prediction()
    empty = SAMRefine(generator=FixedMasks(MaskProposals.empty(8, 8)))
    assert torch.equal(empty(pred, ctx).labels, before)


def test_masks_of_another_size_and_a_missing_image_are_errors():
    pred, ctx = _prediction()
    wrong = MaskProposals.from_masks(torch.ones(1, 16, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match='FixedMasks gave masks of 16x16 for an image of 8x8'):
        SAMRefine(generator=FixedMasks(wrong))(pred, ctx)
    ctx.rgb = None
    with pytest.raises(ValueError, match='needs the RGB image'):
        SAMRefine(generator=FixedMasks(_halves()))(pred, ctx)
    with pytest.raises(ValueError, match='valid:'):
        SAMRefine(generator=FixedMasks(_halves()), mode='vote')


def test_mean_probability_mode():
    pred, ctx = _prediction()
    pred.probs = torch.zeros(3, 8, 8)
    pred.probs[1] = 0.7  # class 1 has the higher mean probability everywhere
    pred.probs[0, :, :4] = 0.3
    out = SAMRefine(generator=FixedMasks(_halves()), mode='mean_prob')(pred, ctx)
    assert (out.labels == 1).all()


class RecordRGB(SegStep):
    stage = 'labels'
    needs_rgb = True

    def forward(self, pred, ctx):
        self.rgb = ctx.rgb
        return pred


def test_the_segmentor_gives_labels_steps_the_rgb_image_at_the_output_size():
    from mmseg.structures import SegDataSample

    recorder = RecordRGB()
    model = tiny_segmentor(steps=[recorder])
    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
    data = model.data_preprocessor(dict(inputs=[rgb.permute(2, 0, 1).flip(0)],  # BGR in
                                        data_samples=[SegDataSample(metainfo=dict(
                                            ori_shape=(40, 56), img_shape=(40, 56)))]))
    model.predict(data['inputs'], data['data_samples'])
    assert recorder.rgb.dtype == torch.uint8 and recorder.rgb.shape == (40, 56, 3)
    assert (recorder.rgb.int() - rgb.int()).abs().max() <= 1
    data['data_samples'][0].set_metainfo(dict(ori_shape=(20, 28)))
    model.predict(data['inputs'], data['data_samples'])
    assert recorder.rgb.shape == (20, 28, 3)


def test_refinement_with_a_tiny_sam_inside_the_segmentor():
    from mmseg.structures import SegDataSample

    step = dict(type='SAMRefine', generator=dict(
        type='SAMAutomaticMasks', sam=dict(tiny=True), points_per_side=4,
        pred_iou_thresh=0.0, stability_score_thresh=0.0))
    torch.manual_seed(0)
    model = tiny_segmentor(steps=[step])
    inputs = torch.randn(1, 3, 48, 64)
    sample = SegDataSample(metainfo=dict(ori_shape=(48, 64), img_shape=(48, 64)))
    out = model.predict(inputs, [sample])[0].pred_sem_seg.data
    assert out.shape == (1, 48, 64)
    plain = tiny_segmentor().predict(inputs, [SegDataSample(metainfo=dict(
        ori_shape=(48, 64), img_shape=(48, 64)))])[0].pred_sem_seg.data
    proposals = model.steps[0].generator(model._rgb_image(inputs[0], (48, 64)))
    assert len(proposals) >= 1
    expected = plain[0].clone()
    for i in torch.argsort(proposals.scores).tolist():
        values, counts = plain[0][proposals.masks[i]].unique(return_counts=True)
        expected[proposals.masks[i]] = values[counts.argmax()]
    assert torch.equal(out[0], expected)


def test_mask_classify_paints_pooled_classes_and_needs_the_whole_image():
    from types import SimpleNamespace

    from dense_clip.seg.steps import MaskClassify

    # Crafted dense map (text embeddings: the identity): the left half carries class 2's
    # embedding, the right half class 1's.
    dense = torch.zeros(1, 3, 2, 2)
    dense[0, 2, :, 0] = 1.0
    dense[0, 1, :, 1] = 1.0
    pred, ctx = _prediction()
    ctx.dense = SimpleNamespace(dense=dense)
    ctx.logit_scale = 50.0
    masks = _halves().masks.clone()
    masks[1, :4] = False  # the right mask covers only the bottom-right quarter
    step = MaskClassify(generator=FixedMasks(MaskProposals.from_masks(masks)))
    out = step(pred, ctx).labels[0]
    assert (out[:, :4] == 2).all() and (out[4:, 4:] == 1).all()
    assert (out[:4, 4:] == _prediction()[0].labels[0, :4, 4:]).all()  # uncovered: kept
    pred, ctx = _prediction()
    ctx.dense = SimpleNamespace(dense=dense)
    out = MaskClassify(generator=FixedMasks(MaskProposals.empty(8, 8)),
                       uncovered='background')(pred, ctx).labels
    assert (out == 0).all()
    with pytest.raises(ValueError, match="mode='whole'"):
        tiny_segmentor(steps=[MaskClassify(generator=FixedMasks(_halves()))])
    model = tiny_segmentor(steps=[dict(type='MaskClassify', generator=dict(
        type='SAMAutomaticMasks', sam=dict(tiny=True), points_per_side=4,
        pred_iou_thresh=0.0, stability_score_thresh=0.0))], test_cfg=dict(mode='whole'))
    labels = model.predict(torch.randn(1, 3, 48, 64))[0].pred_sem_seg.data
    assert labels.shape == (1, 48, 64)
