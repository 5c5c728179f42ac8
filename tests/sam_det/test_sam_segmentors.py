"""SAMInstanceSegmentor / SAMPanopticSegmentor on crafted features and masks."""

from __future__ import annotations

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from dense_clip.models.masks import MaskGenerator, MaskProposals
from dense_clip.models.text import Vocabulary
from dense_clip.sam_det import SAMInstanceSegmentor, SAMPanopticSegmentor
from dense_clip.testing import TINY_VIT_CFG


class FixedMasks(MaskGenerator):
    def __init__(self, proposals: MaskProposals) -> None:
        super().__init__()
        self.proposals = proposals

    def forward(self, image):
        return self.proposals


def _crafted(model, vocabulary: Vocabulary, features: torch.Tensor, text: torch.Tensor):
    model.vocabulary = vocabulary
    model.text_embeddings = lambda: (vocabulary, text)
    model.dense_features = lambda image: features
    return model


def _quadrant_masks() -> torch.Tensor:
    masks = torch.zeros(3, 32, 32, dtype=torch.bool)
    masks[0, :16, :16] = True
    masks[1, 16:, :] = True
    masks[2, :16, 16:] = True
    return masks


def _features(classes=(1, 2, 0)) -> torch.Tensor:
    # (D=3, 2, 2): top-left carries text row classes[0], bottom classes[1], top-right classes[2].
    features = torch.zeros(3, 2, 2)
    features[classes[0], 0, 0] = 1.0
    features[classes[1], 1, :] = 1.0
    features[classes[2], 0, 1] = 1.0
    return features


def _sample(ori=(64, 64)) -> DetDataSample:
    return DetDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=ori, scale_factor=(2, 2)))


def test_ground_truth_masks_classified_background_dropped_labels_shifted():
    model = SAMInstanceSegmentor(clip=dict(model_cfg=TINY_VIT_CFG), generator='ground_truth',
                                 text=dict(cache_dir=False))
    vocabulary = Vocabulary(['cat', 'dog'], background='background')  # dataset: cat, dog
    _crafted(model, vocabulary, _features(), torch.eye(3))
    sample = _sample()
    sample.gt_instances = InstanceData(masks=BitmapMasks(_quadrant_masks().numpy(), 32, 32))
    out = model.predict(torch.zeros(1, 3, 32, 32), [sample])[0].pred_instances
    # top-left -> cat (1 -> dataset label 0), bottom -> dog (2 -> 1), top-right: background
    assert sorted(out.labels.tolist()) == [0, 1]
    assert out.masks.shape[1:] == (64, 64)  # rescaled to the original size
    assert out.bboxes.max() <= 64 and out.bboxes[out.labels == 1][0].tolist() == \
        [0.0, 32.0, 64.0, 64.0]
    missing = _sample()
    with pytest.raises(ValueError, match='with_mask=True'):
        model.predict(torch.zeros(1, 3, 32, 32), [missing])


def test_no_mask_gives_no_instance_and_wrong_sizes_are_named():
    empty = FixedMasks(MaskProposals.empty(32, 32))
    model = SAMInstanceSegmentor(clip=dict(model_cfg=TINY_VIT_CFG), generator=empty,
                                 text=dict(cache_dir=False))
    _crafted(model, Vocabulary(['a', 'b', 'c']), _features(), torch.eye(3))
    out = model.predict(torch.zeros(1, 3, 32, 32), [_sample()])[0].pred_instances
    assert len(out) == 0 and out.masks.shape == (0, 64, 64)
    model.generator = FixedMasks(MaskProposals.from_masks(torch.ones(1, 16, 16, dtype=torch.bool)))
    with pytest.raises(ValueError, match='FixedMasks gave masks of 16x16 for an image of 32x32'):
        model.predict(torch.zeros(1, 3, 32, 32), [_sample()])
    with pytest.raises(ValueError, match='vocabulary is empty'):
        SAMInstanceSegmentor(clip=dict(model_cfg=TINY_VIT_CFG), text=dict(vocabulary=[]),
                             generator=empty)
    with pytest.raises(ValueError, match='valid:'):
        SAMInstanceSegmentor(clip=dict(model_cfg=TINY_VIT_CFG), generator=empty,
                             score_mode='best')


def test_scores_order_and_max_per_image():
    proposals = MaskProposals.from_masks(_quadrant_masks(), torch.tensor([0.2, 0.9, 0.5]))
    model = SAMInstanceSegmentor(clip=dict(model_cfg=TINY_VIT_CFG), text=dict(cache_dir=False),
                                 generator=FixedMasks(proposals), max_per_img=2,
                                 logit_scale=100.0)
    _crafted(model, Vocabulary(['a', 'b', 'c']), _features(), torch.eye(3))
    out = model.predict(torch.zeros(1, 3, 32, 32), [_sample((32, 32))])[0].pred_instances
    assert len(out) == 2 and out.labels.tolist() == [2, 0]  # quality 0.9 then 0.5
    assert (out.scores[:-1] >= out.scores[1:]).all()


def test_panoptic_things_from_instances_stuff_from_the_semantic_map():
    # classes: 0 'cat' (thing), 1 'sky' and 2 'grass' (stuff). Masks: a cat in the top-left;
    # the bottom half is grass; the top-right quadrant has no mask and is sky by the dense map.
    masks = torch.zeros(2, 32, 32, dtype=torch.bool)
    masks[0, :16, :16] = True
    masks[1, 16:, :] = True
    model = SAMPanopticSegmentor(num_things=1, stuff_area_limit=10,
                                 clip=dict(model_cfg=TINY_VIT_CFG), text=dict(cache_dir=False),
                                 generator=FixedMasks(MaskProposals.from_masks(masks)))
    _crafted(model, Vocabulary(['cat', 'sky', 'grass']), _features((0, 2, 1)), torch.eye(3))
    sample = model.predict(torch.zeros(1, 3, 32, 32), [_sample((32, 32))])[0]
    pan = sample.pred_panoptic_seg.sem_seg[0]
    assert pan.shape == (32, 32)
    assert (pan[:16, :16] == 0 + 1000).all()  # cat, instance 1 (label + id * INSTANCE_OFFSET)
    assert (pan[16:] == 2).all() and (pan[:12, 16:] == 1).all()  # grass, sky
    assert set(pan[12:16, 16:].unique().tolist()) <= {1, 2}  # bilinear dense map at the edge
    assert sample.pred_instances.labels.tolist() == [0]
    with pytest.raises(ValueError, match='num_things=5'):
        SAMPanopticSegmentor(num_things=5, clip=dict(model_cfg=TINY_VIT_CFG),
                             text=dict(vocabulary=['a', 'b'], cache_dir=False),
                             generator=FixedMasks(MaskProposals.from_masks(masks)))
