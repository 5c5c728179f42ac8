"""Writes the synthetic open-vocabulary benchmark to a folder (mmseg layout + COCO json).

Example:
    python tools/make_synthetic_dataset.py data/synthetic --seed 0 --n-train 500 --n-val 300
    python tools/make_synthetic_dataset.py data/synthetic_det --detection  # 128 px, COCO + LVIS

See ``dense_clip/synthetic/dataset.py`` (and ``detection.py``) for the layout and the seen /
unseen split.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_clip.synthetic import dataset, detection  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('root', help='output folder')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--n-train', type=int, default=500)
    p.add_argument('--n-val', type=int, default=300)
    p.add_argument('--size', type=int, help='image side in pixels (default 64; 128 with '
                   '--detection)')
    p.add_argument('--detection', action='store_true',
                   help='write the detection set (larger scenes, COCO and LVIS json; counts '
                   'are annotated objects)')
    args = p.parse_args()
    t0 = time.time()
    if args.detection:
        counts = detection.write_detection_dataset(args.root, args.seed, args.n_train,
                                                   args.n_val, args.size or 128)
    else:
        counts = dataset.write_dataset(args.root, args.seed, args.n_train, args.n_val,
                                       args.size or 64)
    print(f'wrote {counts} to {args.root} in {time.time() - t0:.1f}s')


if __name__ == '__main__':
    main()
