"""Segment Anything wrappers: architectures, checked weight loading, mask generators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dense_clip.models.sam import (
    TINY_SAM,
    SAMAutomaticMasks,
    SAMModel,
    SAMPromptedMasks,
    build_sam,
    describe_sam_state,
    to_rgb_uint8,
)
from dense_clip.registry import MASK_GENERATORS, build_component


def _image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2] = (200, 40, 40)
    image[:, w // 2:] = (30, 60, 220)
    return (image + rng.integers(0, 20, image.shape)).astype(np.uint8)


def test_vit_b_matches_segment_anythings_own_build():
    from segment_anything import sam_model_registry

    ours = build_sam('vit_b').state_dict()
    theirs = sam_model_registry['vit_b'](checkpoint=None).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == \
        {k: tuple(v.shape) for k, v in theirs.items()}
    assert describe_sam_state(ours).startswith('vit_b (width 768, 12 blocks)')


def test_unknown_model_type_and_size_keys_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: \\['vit_b', 'vit_h', 'vit_l'\\]"):
        build_sam('vit_x')
    with pytest.raises(ValueError, match='unknown SAM architecture setting'):
        build_sam('vit_b', tiny=True, arch=dict(depthh=3))


def _save(state: dict, path) -> str:
    torch.save(state, path)
    return str(path)


def test_checkpoints_load_weights_only_and_are_checked(tmp_path):
    torch.manual_seed(0)
    source = build_sam('vit_b', arch=TINY_SAM)
    path = _save(source.state_dict(), tmp_path / 'sam_tiny.pth')
    model = SAMModel('vit_b', checkpoint=path, arch=TINY_SAM)
    assert not torch.equal(model.sam.mask_decoder.iou_token.weight,
                           source.mask_decoder.iou_token.weight)
    model.init_weights()
    torch.testing.assert_close(model.sam.mask_decoder.iou_token.weight,
                               source.mask_decoder.iou_token.weight)
    from safetensors.torch import save_file

    st = tmp_path / 'sam_tiny.safetensors'
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(st))
    SAMModel('vit_b', checkpoint=str(st), arch=TINY_SAM).init_weights()


def test_a_checkpoint_of_another_model_type_names_both(tmp_path):
    # The authors' vit_l layout (width 1024, 24 blocks), given to a config that builds vit_b.
    state = {f'image_encoder.blocks.{i}.norm1.weight': torch.ones(1024) for i in range(24)}
    assert describe_sam_state(state).startswith('vit_l')
    path = _save(state, tmp_path / 'sam_vit_l_0b3195.pth')
    model = SAMModel('vit_b', checkpoint=path, arch=TINY_SAM)
    with pytest.raises(ValueError, match=r'holds a vit_l \(width 1024, 24 blocks\) model, but '
                                         r'the config builds an unreleased size \(width 32'):
        model.init_weights()
    deeper = build_sam('vit_b', arch=dict(TINY_SAM, depth=3, global_attn_indexes=(2,)))
    path = _save(deeper.state_dict(), tmp_path / 'deeper.pth')
    with pytest.raises(ValueError, match='3 blocks.*2 blocks'):
        SAMModel('vit_b', checkpoint=path, arch=TINY_SAM).init_weights()


def test_missing_corrupt_and_foreign_checkpoints_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        SAMModel('vit_b', checkpoint=str(tmp_path / 'nowhere.pth'), arch=TINY_SAM).init_weights()
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='cannot read SAM checkpoint .*broken.pth'):
        SAMModel('vit_b', checkpoint=str(broken), arch=TINY_SAM).init_weights()
    clip = _save({'visual.conv1.weight': torch.ones(2)}, tmp_path / 'clip.pth')
    with pytest.raises(ValueError, match='no SAM image encoder'):
        SAMModel('vit_b', checkpoint=clip, arch=TINY_SAM).init_weights()


def test_automatic_generator_gives_masks_at_image_size():
    torch.manual_seed(0)
    generator = build_component(MASK_GENERATORS, dict(
        type='SAMAutomaticMasks', sam=dict(tiny=True), points_per_side=4,
        pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0), SAMAutomaticMasks)
    image = _image()
    proposals = generator(image)
    assert len(proposals) >= 1 and proposals.image_size == (48, 64)
    assert proposals.masks.dtype == torch.bool
    assert (proposals.scores[:-1] >= proposals.scores[1:]).all()  # best first
    same = generator(torch.from_numpy(image).permute(2, 0, 1))  # (3, H, W) tensors too
    assert torch.equal(same.masks, proposals.masks)
    generator.max_masks = 1
    assert len(generator(image)) == 1


def test_automatic_generator_may_find_nothing_and_rejects_bad_input():
    generator = SAMAutomaticMasks(sam=dict(tiny=True), points_per_side=2, pred_iou_thresh=1.5)
    proposals = generator(_image())
    assert len(proposals) == 0 and proposals.image_size == (48, 64)
    with pytest.raises(ValueError, match='unknown SamAutomaticMaskGenerator setting'):
        SAMAutomaticMasks(sam=dict(tiny=True), points_per_sides=2)
    with pytest.raises(ValueError, match=r'\(H, W, 3\) uint8'):
        to_rgb_uint8(np.zeros((8, 8, 3), np.float32))


def test_prompted_masks_one_per_prompt():
    torch.manual_seed(0)
    predictor = SAMPromptedMasks(sam=dict(tiny=True), multimask=True)
    image = _image()
    boxes = torch.tensor([[0.0, 0.0, 30.0, 40.0], [32.0, 4.0, 60.0, 44.0]])
    by_box = predictor(image, boxes=boxes)
    assert len(by_box) == 2 and by_box.image_size == (48, 64)
    points = torch.tensor([[[10.0, 10.0]], [[50.0, 30.0]], [[5.0, 40.0]]])
    assert len(predictor(image, points=points)) == 3
    both = predictor(image, boxes=boxes, points=points[:2],
                     point_labels=torch.tensor([[1], [0]]))
    assert len(both) == 2
    assert len(predictor(image)) == 0
    with pytest.raises(ValueError, match='2 boxes but 3 point sets'):
        predictor(image, boxes=boxes, points=points)
