"""The zero-shot region detector (one CLIP pass per batch, box sources, scores) and CLIPSelf (its
loss against a by-hand computation, what trains, the exported ensemble)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torchvision.ops import roi_align

import dense_clip.det  # noqa: F401
from dense_clip.models.clip_source import CLIPSource
from dense_clip.registry import DET_MODELS
from dense_clip.testing import TINY_VIT_CFG
from dense_clip.testing.detection import tiny_det_config, write_tiny_det_data
from tests.conftest import REPO

CLASSES = dict(classes=['red plain', 'blue dotted', 'green striped'], novel=['blue dotted'])


def zero_shot(**overrides):
    init_default_scope('mmdet')
    cfg = dict(type='ZeroShotRegionDetector', clip=dict(model_cfg=TINY_VIT_CFG),
               text=dict(class_split=CLASSES, templates='single', cache_dir=False), **overrides)
    torch.manual_seed(0)
    return DET_MODELS.build(cfg).eval()


def sample(gt=None, proposals=None, scores=None, scale=1.0):
    data = DetDataSample(metainfo=dict(img_shape=(32, 48), ori_shape=(32 / scale, 48 / scale),
                                       scale_factor=(scale, scale), img_path='x.png'))
    if gt is not None:
        data.gt_instances = InstanceData(bboxes=torch.tensor(gt, dtype=torch.float32).view(-1, 4),
                                         labels=torch.zeros(len(gt), dtype=torch.long))
    if proposals is not None:
        data.proposals = InstanceData(bboxes=torch.tensor(proposals, dtype=torch.float32),
                                      scores=torch.tensor(scores, dtype=torch.float32))
    return data


def test_one_clip_pass_whatever_the_number_of_boxes():
    model = zero_shot()
    calls = []
    forward = model.encoder.forward

    def counting(*args, **kwargs):
        calls.append(1)
        return forward(*args, **kwargs)

    model.encoder.forward = counting
    images = torch.randn(2, 3, 32, 48)
    for count in (3, 300):
        torch.manual_seed(count)
        xy = torch.rand(count, 2) * torch.tensor([30.0, 20.0])
        boxes = torch.cat([xy, xy + torch.rand(count, 2) * 10 + 2], 1).tolist()
        calls.clear()
        out = model.predict(images, [sample(gt=boxes), sample(gt=boxes[:1])])
        assert len(calls) == 1
        assert len(out[0].pred_instances.bboxes) <= 100  # max_per_img


def test_ground_truth_boxes_are_classified_as_given():
    model = zero_shot(test_cfg=dict(score_thr=0.0, max_per_img=1000))
    images = torch.randn(1, 3, 32, 48)
    boxes = [[2.0, 2.0, 20.0, 20.0], [24.0, 6.0, 46.0, 30.0]]
    out = model.predict(images, [sample(gt=boxes, scale=2.0)])[0].pred_instances
    with torch.no_grad():
        dense = model.extract_feat(images)
        emb = model.region(dense, [torch.tensor(boxes)], (32, 48))
        pred = model.classifier(emb, model.text_embeddings(), model.text.vocabulary)
    # every (box, class) pair survives (score_thr 0, distinct boxes per class); boxes rescaled
    assert len(out.bboxes) == 6
    first = (out.labels == pred.labels[0]) & (out.bboxes[:, 0] == 1.0)
    torch.testing.assert_close(out.scores[first], pred.scores[:1])
    assert set(map(tuple, out.bboxes.tolist())) == {(1.0, 1.0, 10.0, 10.0),
                                                  (12.0, 3.0, 23.0, 15.0)}


def test_proposals_are_scaled_clipped_and_scored_geometrically():
    model = zero_shot(proposals='file',
                      test_cfg=dict(score_thr=0.0, max_per_img=1000, proposal_score='geometric'))
    # original-pixel proposals; the second one leaves the image and is clipped, the third is
    # outside and dropped
    data = sample(proposals=[[1.0, 1.0, 10.0, 8.0], [20.0, 5.0, 40.0, 20.0],
                             [30.0, 30.0, 40.0, 40.0]], scores=[0.25, 1.0, 0.5], scale=2.0)
    images = torch.randn(1, 3, 32, 48)
    out = model.predict(images, [data])[0].pred_instances
    assert {tuple(b) for b in out.bboxes.tolist()} == {(1.0, 1.0, 10.0, 8.0),
                                                      (20.0, 5.0, 24.0, 16.0)}
    with torch.no_grad():  # in network pixels: x2, then clipped to 48 x 32
        kept = torch.tensor([[2.0, 2.0, 20.0, 16.0], [40.0, 10.0, 48.0, 32.0]])
        emb = model.region(model.extract_feat(images), [kept], (32, 48))
        probs = model.classifier(emb, model.text_embeddings(), model.text.vocabulary).probs
    expected = (probs * torch.tensor([[0.25], [1.0]])).sqrt().flatten()
    torch.testing.assert_close(out.scores.sort().values, expected.sort().values)
    no_gt = zero_shot()
    with pytest.raises(ValueError, match='LoadAnnotations'):
        no_gt.predict(torch.randn(1, 3, 32, 48), [sample()])
    empty = no_gt.predict(torch.randn(1, 3, 32, 48), [sample(gt=torch.zeros(0, 4).tolist())])
    assert len(empty[0].pred_instances.bboxes) == 0


def test_training_a_zero_shot_detector_is_refused():
    with pytest.raises(NotImplementedError, match='training-free'):
        zero_shot().loss(torch.randn(1, 3, 32, 32), [])


# ---------------------------------------------------------------------------- CLIPSelf
@pytest.fixture(scope='module')
def clipself(tmp_path_factory):
    init_default_scope('mmdet')
    root = write_tiny_det_data(tmp_path_factory.mktemp('cs_data'))
    path = REPO / 'configs' / 'clipself' / 'clipself_vit-b16_6e_coco-patches.py'
    cfg = tiny_det_config(Config.fromfile(path), root, tmp_path_factory.mktemp('cs_work'))
    torch.manual_seed(0)
    model = DET_MODELS.build(cfg.model)
    model.init_weights()
    from mmengine.dataset import pseudo_collate

    from dense_clip.registry import DET_DATASETS

    dataset = DET_DATASETS.build(cfg.train_dataloader.dataset)
    data = model.data_preprocessor(pseudo_collate([dataset[0], dataset[1]]), training=True)
    return model, data


def test_clipself_loss_is_one_minus_cosine_to_the_teacher_crops(clipself):
    model, data = clipself
    samples = data['data_samples']
    loss = model.loss(data['inputs'], samples)['loss_cosine']
    # by hand: the student's value-path map normalised, 1x1 aligned RoIAlign on the grid; the
    # teacher's encode_image of the crops normalised like the images
    visual = model.student.visual
    with torch.no_grad():
        from dense_clip.models.clip import CLIPDenseEncoder

        dense = CLIPDenseEncoder(model.student, 'maskclip').forward(data['inputs']).dense
        boxes = [getattr(s.gt_instances.bboxes, 'tensor', s.gt_instances.bboxes) for s in samples]
        patch = visual.conv1.kernel_size[0]
        student = roi_align(F.normalize(dense, dim=1), boxes, (1, 1), 1 / patch, -1, True)
        crops = torch.cat([s.crops for s in samples]).float()[:, [2, 1, 0]]
        mean = torch.tensor([122.771, 116.746, 104.094]).view(1, 3, 1, 1)
        std = torch.tensor([68.501, 66.632, 70.323]).view(1, 3, 1, 1)
        teacher = model.teacher.encode_image((crops - mean) / std)
        cos = F.cosine_similarity(student[:, :, 0, 0], teacher, dim=-1)
    torch.testing.assert_close(loss.detach(), 1 - cos.mean(), atol=1e-5, rtol=1e-5)
    loss.backward()
    trained = {n for n, p in model.student.named_parameters() if p.grad is not None}
    assert trained and all(n.startswith('visual.transformer.resblocks.') for n in trained)
    assert all(p.grad is None for p in model.teacher.parameters())
    model.zero_grad()


def test_clipself_export_is_the_student_teacher_ensemble(clipself, tmp_path):
    model, _ = clipself
    block = model.student.visual.transformer.resblocks[0].mlp.c_fc
    with torch.no_grad():
        block.weight.add_(1.0)
    exported = model.export_state_dict()
    key = 'visual.transformer.resblocks.0.mlp.c_fc.weight'
    teacher = model.teacher.state_dict()[key]
    torch.testing.assert_close(exported[key], 0.7 * block.weight + 0.3 * teacher)
    from dense_clip.det.hooks import export_clipself

    path = export_clipself(model, str(tmp_path / 'student.pt'))
    source = CLIPSource(model_cfg=TINY_VIT_CFG, pretrained=path)
    clip, _ = source.build()
    source.load_weights(clip)  # strict: every key of the tiny CLIP
    torch.testing.assert_close(clip.state_dict()[key], exported[key])
    with torch.no_grad():
        block.weight.sub_(1.0)
    assert math.isclose(model.ensemble_alpha, 0.7)


def test_embedded_clip_takes_a_tuned_checkpoint(tmp_path):
    source = CLIPSource(model_name='dense_clip:tiny-clip-synth')
    model, _ = source.build()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state['visual.proj'] = state['visual.proj'] * 2
    torch.save(state, tmp_path / 'tuned.pt')
    tuned_source = CLIPSource(model_name='dense_clip:tiny-clip-synth',
                              pretrained=str(tmp_path / 'tuned.pt'))
    tuned, _ = tuned_source.build()
    tuned_source.load_weights(tuned)
    torch.testing.assert_close(tuned.visual.proj, model.visual.proj * 2)
