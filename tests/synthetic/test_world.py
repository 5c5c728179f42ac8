"""Tests of the synthetic world generator and its dataset writers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dense_clip.synthetic import dataset, world


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob('*'))
        if p.is_file()
    }


@pytest.fixture(scope='module')
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('synth_a')
    dataset.write_dataset(root, seed=3, n_train=12, n_val=10)
    return root


def test_same_seed_same_bytes(written: Path, tmp_path: Path) -> None:
    dataset.write_dataset(tmp_path / 'b', seed=3, n_train=12, n_val=10)
    assert _tree_digest(written) == _tree_digest(tmp_path / 'b')


def test_different_seed_differs(written: Path, tmp_path: Path) -> None:
    dataset.write_dataset(tmp_path / 'c', seed=4, n_train=12, n_val=10)
    a, c = _tree_digest(written), _tree_digest(tmp_path / 'c')
    assert a['img_dir/val/00000.png'] != c['img_dir/val/00000.png']


def test_sample_independent_of_others() -> None:
    s1 = dataset.segmentation_scene(0, 'val', 7)
    dataset.segmentation_scene(0, 'val', 3)
    s2 = dataset.segmentation_scene(0, 'val', 7)
    assert np.array_equal(s1.image, s2.image) and np.array_equal(s1.label, s2.label)


def test_mmseg_layout_and_class_file(written: Path) -> None:
    lines = (written / 'class_names.txt').read_text().splitlines()
    assert len(lines) == 25 and len(world.categories()) == 24
    assert lines[0].split(',')[0] == 'background'
    for split, n in (('train', 12), ('val', 10)):
        imgs = sorted((written / 'img_dir' / split).glob('*.png'))
        anns = sorted((written / 'ann_dir' / split).glob('*.png'))
        assert len(imgs) == len(anns) == n
        assert [p.name for p in imgs] == [p.name for p in anns]
        img, ann = Image.open(imgs[0]), Image.open(anns[0])
        assert img.mode == 'RGB' and ann.mode == 'L' and img.size == ann.size
        labels = np.concatenate([np.asarray(Image.open(p)).ravel() for p in anns])
        assert labels.dtype == np.uint8 and labels.max() < len(lines)
        assert (labels == 0).any() and (labels > 0).any()


def test_train_split_has_only_seen_classes(written: Path) -> None:
    unseen = {c.index for c in world.categories() if not c.seen}
    for p in (written / 'ann_dir' / 'train').glob('*.png'):
        assert not unseen & set(np.unique(np.asarray(Image.open(p))).tolist())


def test_coco_json_valid(written: Path) -> None:
    for split in ('train', 'val'):
        coco = json.loads((written / 'annotations' / f'instances_{split}.json').read_text())
        cat_ids = {c['id'] for c in coco['categories']}
        assert cat_ids == {c.index for c in world.categories()}
        images = {im['id']: im for im in coco['images']}
        assert len(images) == len(coco['images'])
        assert len({a['id'] for a in coco['annotations']}) == len(coco['annotations'])
        for ann in coco['annotations']:
            im = images[ann['image_id']]
            assert ann['category_id'] in cat_ids
            x, y, w, h = ann['bbox']
            assert 0 <= x and 0 <= y and w > 0 and h > 0
            assert x + w <= im['width'] and y + h <= im['height']
            mask = dataset.rle_decode(ann['segmentation'])
            assert mask.shape == (im['height'], im['width'])
            assert sum(ann['segmentation']['counts']) == im['height'] * im['width']
            assert mask.sum() == ann['area'] > 0
            ys, xs = np.nonzero(mask)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x, y, x + w, y + h)
            label = np.asarray(Image.open(written / 'ann_dir' / split / im['file_name']))
            assert (label[mask] == ann['category_id']).all()


def test_rle_roundtrip() -> None:
    rng = np.random.default_rng(0)
    for shape in ((5, 7), (64, 64)):
        mask = rng.random(shape) < 0.4
        mask[0, 0] = True
        assert np.array_equal(dataset.rle_decode(dataset.rle_encode(mask)), mask)


def test_seen_unseen_split() -> None:
    cats = world.categories()
    seen = {c.name for c in cats if c.seen}
    unseen = {c.name for c in cats if not c.seen}
    assert seen.isdisjoint(unseen) and seen | unseen == {c.name for c in cats}
    assert len(unseen) == 6 and len(seen) == 18
    # Every word of an unseen class occurs in some seen class.
    for c in cats:
        if not c.seen:
            assert any(s.colour == c.colour for s in cats if s.seen)
            assert any(s.texture == c.texture for s in cats if s.seen)


def test_captions_name_visible_objects() -> None:
    rng = np.random.default_rng(1)
    cats = [c for c in world.categories() if c.seen][:3]
    scene = world.render_scene(rng, cats)
    text = world.caption(rng, scene, background_prob=1.0)
    for obj in scene.objects:
        assert obj.category.colour in text
    assert scene.background in text


def test_classification_set() -> None:
    images, labels = dataset.classification_set(5, 30)
    assert images.shape == (30, 64, 64, 3) and images.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 23


def test_shipped_class_list_matches_the_world():
    from dense_clip.models.text import Vocabulary
    from dense_clip.synthetic import world

    vocab = Vocabulary.load('synthetic')
    assert vocab.class_names == ('background', *(c.name for c in world.categories()))
    assert vocab.class_synonyms[0] == tuple(world.background_names())
    assert all(vocab.class_synonyms[c.index] == tuple(c.synonyms) for c in world.categories())
