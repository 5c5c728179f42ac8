"""Class splits, the OV COCO / LVIS datasets, proposal files and CLIPSelf's crop sampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import dense_clip.det  # noqa: F401  (registers the modules)
from dense_clip.det.class_split import available_class_splits, load_class_split, prompt_name
from dense_clip.det.datasets import (
    CLIPSelfCrops,
    OVCocoDataset,
    OVLVISDataset,
    PackCLIPSelfInputs,
    grid_choices,
    read_coco_proposals,
    resize_max_size,
)
from dense_clip.synthetic import world
from dense_clip.testing.detection import write_tiny_det_data


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    init_default_scope('mmdet')
    return write_tiny_det_data(tmp_path_factory.mktemp('tiny_det_ds'), n_train=6, n_val=4)


def test_shipped_splits_have_the_published_sizes():
    assert {'ov_coco', 'ov_lvis', 'synthetic'} <= set(available_class_splits())
    coco = load_class_split('ov_coco')
    assert (len(coco.classes), len(coco.base), len(coco.novel_classes)) == (65, 48, 17)
    assert {'cat', 'dog', 'umbrella', 'couch'} <= set(coco.novel_classes)
    lvis = load_class_split('ov_lvis')
    assert (len(lvis.classes), len(lvis.novel_classes)) == (1203, 337)
    assert 'speaker_(stero_equipment)' in lvis.classes  # spelled as in lvis_v1_val.json
    syn = load_class_split('synthetic')  # the shipped file is the world's own split
    assert syn.synonyms == tuple(tuple(c.synonyms) for c in world.categories())
    assert syn.novel_classes == tuple(c.name for c in world.categories() if not c.seen)
    vocab = syn.vocabulary()
    assert vocab.class_synonyms[1] == ('red striped', 'red stripes')
    assert lvis.vocabulary().class_synonyms[0] == ('aerosol can',)
    assert prompt_name('a/b_c') == 'a or b c'


def test_bad_class_splits_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown class split 'coco_90'.*ov_coco"):
        load_class_split('coco_90')
    with pytest.raises(ValueError, match=r"novel classes \['zebra'\]"):
        load_class_split(dict(classes=['cat', 'dog'], novel=['zebra']))
    with pytest.raises(ValueError, match='duplicate classes'):
        load_class_split(dict(classes=['cat', 'cat'], novel=[]))
    broken = tmp_path / 'split.json'
    broken.write_text('{"classes": [')
    with pytest.raises(ValueError, match='not valid JSON'):
        load_class_split(broken)


def dataset(root, split='val', **kwargs):
    return OVCocoDataset(data_root=str(root) + '/', ann_file=f'annotations/instances_{split}.json',
                         data_prefix=dict(img=f'images/{split}/'), class_split='synthetic',
                         pipeline=[], **kwargs)


def test_ov_dataset_metainfo_and_base_filtering(tiny_data):
    val = dataset(tiny_data)
    assert len(val.metainfo['classes']) == 24 and len(val.metainfo['novel_classes']) == 6
    coco = json.loads((tiny_data / 'annotations' / 'instances_val.json').read_text())
    labels = sorted(inst['bbox_label'] for info in val for inst in info['instances'])
    assert labels == sorted(a['category_id'] - 1 for a in coco['annotations'])
    novel = {i for i, n in enumerate(val.class_split.is_novel()) if n}
    base_only = dataset(tiny_data, keep_classes='base')
    assert all(inst['bbox_label'] not in novel for info in base_only for inst in info['instances'])
    assert any(inst['bbox_label'] in novel for info in val for inst in info['instances'])


def test_category_order_mismatch_is_an_error(tiny_data, tmp_path):
    coco = json.loads((tiny_data / 'annotations' / 'instances_val.json').read_text())
    coco['categories'] = coco['categories'][::-1]
    for i, cat in enumerate(coco['categories']):  # reversed names at the same ids
        cat['id'] = i + 1
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / 'instances_val.json').write_text(json.dumps(coco))
    with pytest.raises(ValueError, match='in another order'):
        dataset(tmp_path)
    coco['categories'] = coco['categories'][:-1]
    (tmp_path / 'annotations' / 'instances_val.json').write_text(json.dumps(coco))
    with pytest.raises(ValueError, match='not in the annotation file'):
        dataset(tmp_path)


def test_coco_proposal_files(tiny_data, tmp_path):
    proposals = read_coco_proposals(str(tiny_data / 'proposals_val.json'))
    first = proposals[1]
    assert first['bboxes'].shape[1] == 4 and np.all(np.diff(first['scores']) <= 0)
    with_props = dataset(tiny_data, proposal_file=str(tiny_data / 'proposals_val.json'))
    assert len(with_props[0]['proposals']['bboxes']) == len(proposals[1]['bboxes'])
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([{'image_id': 1, 'bbox': [1, 2, 3]}]))
    with pytest.raises(ValueError, match='record 0 needs image_id and bbox'):
        read_coco_proposals(str(bad))
    with pytest.raises(FileNotFoundError, match='proposal file not found'):
        dataset(tiny_data, proposal_file=str(tmp_path / 'none.json'))


def test_lvis_dataset_reads_paths_from_coco_url(tiny_data):
    lvis = OVLVISDataset(data_root=str(tiny_data) + '/', ann_file='annotations/lvis_val.json',
                         data_prefix=dict(img='images/'), class_split='synthetic', pipeline=[])
    assert lvis[0]['img_path'].endswith('images/val/00000.png')


def test_grid_choices_follow_clipself():
    # GridDistillDataset._init_choices: m in 1..M, n in (m + 1) // 2 .. min(2m, M)
    assert grid_choices(2) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    choices = grid_choices(6)
    assert len(choices) == len(set(choices)) and (6, 3) in choices and (1, 3) not in choices


def test_clipself_crops_and_packing():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)
    np.random.seed(0)
    out = CLIPSelfCrops(mode='grid', max_split=3, max_boxes=4, crop_size=16)(dict(img=img))
    boxes = out['gt_bboxes'].tensor
    assert 1 <= len(boxes) <= 4 and out['clipself_crops'].shape == (len(boxes), 16, 16, 3)
    assert float(boxes[:, 2].max()) <= 80 and float(boxes[:, 3].max()) <= 48
    # a box's crop is the box region resized (longer side 16), centred on black
    crop = resize_max_size(img[0:8, 0:16], 16)
    assert crop[:4].max() == 0 and crop[-4:].max() == 0 and crop[4:12].max() > 0
    from mmdet.structures.bbox import HorizontalBoxes

    boxes_mode = CLIPSelfCrops(mode='boxes', crop_size=16, min_size=4)
    given = dict(img=img, gt_bboxes=HorizontalBoxes(torch.tensor([[0.0, 0.0, 2.0, 2.0],
                                                                  [10.0, 10.0, 30.0, 40.0]])))
    out = boxes_mode(given)  # the 2x2 box is below min_size
    assert out['gt_bboxes'].tensor.tolist() == [[10.0, 10.0, 30.0, 40.0]]
    out.update(img_path='x.png', img_id=0, ori_shape=(48, 80), img_shape=(48, 80),
               scale_factor=(1.0, 1.0))
    packed = PackCLIPSelfInputs(meta_keys=('img_id', 'img_shape'))(out)
    assert packed['data_samples'].crops.shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="mode must be one of"):
        CLIPSelfCrops(mode='random')
