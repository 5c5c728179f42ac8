"""Converts the PASCAL Context 459-class annotations into the PC-459 layout CAT-Seg evaluates on.

Follows CAT-Seg's datasets/prepare_pascal_context_459.py: for each id of
``pascalcontext_val.txt`` with a ``trainval/<id>.mat``, its ``LabelMap`` (values 1..459, the order
of ``labels.txt``) minus one is saved as a 16-bit TIFF. A LabelMap value 0 (unlabeled) would wrap
to 65535 in CAT-Seg's uint16 arithmetic; it is written as 65535 explicitly here, the ignore value
of PascalContext459Dataset.

Input (VOC2010 + the full PASCAL Context annotations, https://cs.stanford.edu/~roozbeh/pascal-context/
trainval.tar.gz; pascalcontext_val.txt ships in CAT-Seg's datasets/ folder)::

    VOCdevkit/VOC2010/
        JPEGImages/<id>.jpg
        trainval/<id>.mat          # from trainval.tar.gz
        pascalcontext_val.txt      # 5105 val ids

Output::

    VOCdevkit/VOC2010/annotations_detectron2/pc459_val/<id>.tif

    python tools/dataset_converters/pascal_context459.py data/VOCdevkit/VOC2010
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from dense_clip.utils.progress import track

IGNORE = 65535
NUM_CLASSES = 459


def label_map_to_train_ids(label_map: np.ndarray) -> np.ndarray:
    """(H, W) LabelMap (0 = unlabeled, 1..459) -> (H, W) uint16 labels 0..458, 65535 unlabeled."""
    label_map = np.asarray(label_map).astype(np.int64)
    if label_map.min() < 0 or label_map.max() > NUM_CLASSES:
        raise ValueError(
            f'LabelMap values must lie in 0..{NUM_CLASSES}, got '
            f'{label_map.min()}..{label_map.max()}'
        )
    out = (label_map - 1).astype(np.uint16)  # 0 wraps to 65535, like CAT-Seg's uint16 arithmetic
    out[label_map == 0] = IGNORE
    return out


def _load_label_map(path: Path) -> np.ndarray:
    try:
        from scipy.io import loadmat
    except ImportError as error:
        raise SystemExit('reading the .mat annotations needs scipy: pip install scipy') from error
    return loadmat(str(path))['LabelMap']


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', type=Path, help='the VOCdevkit/VOC2010 folder')
    parser.add_argument(
        '--split-file', type=Path, help='ids to convert (default: <root>/pascalcontext_val.txt)'
    )
    parser.add_argument('--mat-dir', type=Path, help='default: <root>/trainval')
    parser.add_argument(
        '--out-dir', type=Path, help='default: <root>/annotations_detectron2/pc459_val'
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.root.is_dir():
        raise SystemExit(f'VOC2010 folder {args.root} not found')
    split_file = args.split_file or args.root / 'pascalcontext_val.txt'
    mat_dir = args.mat_dir or args.root / 'trainval'
    out_dir = args.out_dir or args.root / 'annotations_detectron2' / 'pc459_val'
    if not split_file.is_file():
        raise SystemExit(
            f"split file {split_file} not found: copy CAT-Seg's "
            'datasets/pascalcontext_val.txt there, or give --split-file'
        )
    if not mat_dir.is_dir():
        raise SystemExit(
            f'annotation folder {mat_dir} not found: extract trainval.tar.gz '
            '(PASCAL Context full annotations) into the VOC2010 folder'
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
    written, missing = 0, []
    for image_id in track(ids, 'PC-459', unit='image'):
        mat = mat_dir / f'{image_id}.mat'
        if not mat.is_file():  # CAT-Seg skips ids without a .mat as well
            missing.append(image_id)
            continue
        labels = label_map_to_train_ids(_load_label_map(mat))
        Image.fromarray(labels).save(out_dir / f'{image_id}.tif', format='TIFF')
        written += 1
    print(f'wrote {written} label maps to {out_dir}')
    if missing:
        print(f'skipped {len(missing)} ids without a .mat file, e.g. {missing[:3]}')


if __name__ == '__main__':
    sys.exit(main())
