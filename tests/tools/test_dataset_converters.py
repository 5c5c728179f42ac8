"""Dataset converters (tools/dataset_converters) on tiny synthetic inputs in the raw formats."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

from dense_clip.seg.datasets.class_lists import ade847_object_ids
from tests.conftest import load_tool


def load_converter(name: str) -> ModuleType:
    return load_tool(f'dataset_converters/{name}.py')


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def test_coco_object_from_stuffthingmaps(tmp_path: Path) -> None:
    tool = load_converter('coco_object')
    ann_dir = tmp_path / 'annotations' / 'val2017'
    ann_dir.mkdir(parents=True)
    # COCO-Stuff values are category id - 1: person, stop sign (id 13), giraffe (25), toothbrush
    # (90), an unused id (12), stuff (92, 182) and unlabeled.
    raw = np.array([[0, 12, 24, 89], [11, 91, 181, 255]], np.uint8)
    Image.fromarray(raw).save(ann_dir / '000000000139.png')
    Image.fromarray(raw).save(ann_dir / '000000000139_labelTrainIds.png')  # must be skipped
    tool.main([str(tmp_path)])
    out = read(ann_dir / '000000000139_instanceTrainIds.png')
    assert out.tolist() == [[1, 12, 24, 80], [0, 0, 0, 0]]
    assert not (ann_dir / '000000000139_labelTrainIds_instanceTrainIds.png').exists()
    assert len(tool.COCO_THING_IDS) == 80


def rectangle(x0: int, y0: int, x1: int, y1: int) -> list[list[float]]:
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.flatten(order='F').astype(np.uint8)  # COCO RLE runs go down the columns
    edges = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
    counts = ([0] if flat[0] else []) + runs
    return dict(size=list(mask.shape), counts=counts)


def test_coco_object_from_instances(tmp_path: Path) -> None:
    from pycocotools import mask as mask_api

    tool = load_converter('coco_object')
    height, width = 40, 56
    crowd = np.zeros((height, width), bool)
    crowd[30:38, 2:12] = True
    brush = np.zeros((height, width), bool)
    brush[3:9, 40:50] = True
    compressed = mask_api.encode(np.asfortranarray(brush.astype(np.uint8)))
    compressed['counts'] = compressed['counts'].decode('ascii')
    images = [
        dict(id=1, file_name='000000000001.jpg', height=height, width=width),
        dict(id=2, file_name='000000000002.jpg', height=height, width=width),
    ]
    annotations = [
        dict(id=1, image_id=1, category_id=1, iscrowd=0, segmentation=rectangle(5, 5, 30, 25)),
        dict(id=2, image_id=1, category_id=18, iscrowd=0, segmentation=rectangle(20, 15, 45, 35)),
        dict(id=3, image_id=1, category_id=3, iscrowd=1, segmentation=uncompressed_rle(crowd)),
        dict(id=4, image_id=2, category_id=90, iscrowd=0, segmentation=compressed),
    ]
    ann_file = tmp_path / 'instances_val2017.json'
    ann_file.write_text(json.dumps(dict(images=images, annotations=annotations, categories=[])))
    out_dir = tmp_path / 'annotations' / 'val2017'

    tool.main([str(tmp_path), '--source', 'instances', '--ann-file', str(ann_file)])
    first = read(out_dir / '000000000001_instanceTrainIds.png')
    assert first[10, 10] == 1  # person
    assert first[20, 25] == 17 and first[30, 40] == 17  # dog (id 18) is later: wins the overlap
    assert first[2, 2] == 0 and not first[crowd].any()  # crowd skipped by default
    second = read(out_dir / '000000000002_instanceTrainIds.png')
    np.testing.assert_array_equal(second, np.where(brush, 80, 0))

    tool.main(
        [str(tmp_path), '--source', 'instances', '--ann-file', str(ann_file), '--include-crowd']
    )
    assert (read(out_dir / '000000000001_instanceTrainIds.png')[crowd] == 3).all()  # car


def write_ade_full_image(folder: Path, name: str, ade_ids: np.ndarray) -> None:
    """Writes an ADE20K 2021 image and its *_seg.png (class = R // 10 * 256 + G)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    height, width = ade_ids.shape
    seg = np.zeros((height, width, 3), np.uint8)
    seg[..., 0] = (ade_ids // 256) * 10 + rng.integers(0, 10, ade_ids.shape)  # R % 10 is unused
    seg[..., 1] = ade_ids % 256
    seg[..., 2] = rng.integers(0, 256, ade_ids.shape)  # instance ids, ignored
    Image.fromarray(seg).save(folder / f'{name}_seg.png')
    Image.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(folder / f'{name}.jpg')


def test_ade847_converter_and_dataset(tmp_path: Path) -> None:
    tool = load_converter('ade847')
    root = tmp_path / 'ADE20K_2021_17_01'
    known = set(ade847_object_ids())
    unknown = next(i for i in range(1, 4000) if i not in known)
    ids = np.array([[2978, 3148, 1223, 603], [0, unknown, 2978, 3148]], np.int64)
    small = np.kron(ids, np.ones((20, 14), np.int64))  # (40, 56)
    write_ade_full_image(root / 'images/ADE/validation/abbey', 'ADE_val_00000001', small)
    large = np.full((520, 530), 3148, np.int64)
    write_ade_full_image(root / 'images/ADE/validation/zoo', 'ADE_val_00000002', large)
    write_ade_full_image(root / 'images/ADE/training/zoo', 'ADE_train_00000001', large)

    tool.main([str(root)])
    labels = root / 'annotations_detectron2' / 'validation'
    assert sorted(p.name for p in labels.iterdir()) == [
        'ADE_val_00000001.tif',
        'ADE_val_00000002.tif',
    ]
    out = read(labels / 'ADE_val_00000001.tif')
    assert out.dtype == np.uint16
    expected = np.kron(
        np.array([[0, 846, 268, 768], [65535, 65535, 0, 846]], np.uint16),
        np.ones((20, 14), np.uint16),
    )
    np.testing.assert_array_equal(out, expected)
    resized = read(labels / 'ADE_val_00000002.tif')
    assert resized.shape == (512, 522) and (resized == 846).all()  # short side 520 -> 512
    image = read(root / 'images_detectron2/validation/ADE_val_00000002.jpg')
    assert image.shape == (512, 522, 3)

    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='ADE20K847Dataset',
            data_root=str(root),
            data_prefix=dict(
                img_path='images_detectron2/validation',
                seg_map_path='annotations_detectron2/validation',
            ),
            pipeline=[dict(type='LoadUInt16Annotations'), dict(type='PackSegInputs')],
        )
    )
    assert len(dataset) == 2
    np.testing.assert_array_equal(dataset[0]['data_samples'].gt_sem_seg.data[0].numpy(), expected)


def test_pascal_context459_converter(tmp_path: Path) -> None:
    from scipy.io import savemat

    tool = load_converter('pascal_context459')
    root = tmp_path / 'VOCdevkit' / 'VOC2010'
    (root / 'trainval').mkdir(parents=True)
    label_map = np.array([[0, 1, 256], [257, 459, 1]], np.uint16)
    savemat(root / 'trainval' / '2008_000002.mat', dict(LabelMap=label_map))
    (root / 'pascalcontext_val.txt').write_text('2008_000002\n2008_000003\n')  # 2nd: no .mat
    tool.main([str(root)])
    out = read(root / 'annotations_detectron2/pc459_val/2008_000002.tif')
    assert out.dtype == np.uint16
    assert out.tolist() == [[65535, 0, 255], [256, 458, 0]]
    assert not (root / 'annotations_detectron2/pc459_val/2008_000003.tif').exists()
    with pytest.raises(ValueError, match='LabelMap values'):
        tool.label_map_to_train_ids(np.array([[460]]))


@pytest.mark.parametrize(
    'tool_name, argv, message',
    [
        ('coco_object', ['{root}'], 'annotations/val2017 not found'),
        ('coco_object', ['{root}', '--source', 'instances'], 'instances_val2017.json not found'),
        ('ade847', ['{root}'], 'images/ADE/validation not found'),
        ('pascal_context459', ['{root}'], 'pascalcontext_val.txt not found'),
    ],
)
def test_converters_name_missing_inputs(
    tool_name: str, argv: list[str], message: str, tmp_path: Path
) -> None:
    tool = load_converter(tool_name)
    with pytest.raises(SystemExit, match=message):
        tool.main([arg.format(root=tmp_path) for arg in argv])
