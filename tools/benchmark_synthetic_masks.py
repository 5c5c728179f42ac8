"""Mask classification on the synthetic benchmark, with ground-truth masks as proposals.

    python tools/benchmark_synthetic_masks.py [--out-dir work_dirs/synthetic_masks] [--n-val 200]

The classification half of "SAM + dense CLIP" (SAM with random weights makes no masks, so the
proposals here are the synthetic world's annotated instance masks: the pipeline's upper bound).
For each last-block strategy, with the embedded CLIP (``dense_clip:tiny-clip-synth``) and one
dense pass per 64 px image: every annotated mask is mask-pooled and classified against the 25
synthetic classes (background included; the 4 caption templates the CLIP was trained with;
logit scale 100). Reports, seen / unseen / all:

* accuracy: the share of masks whose predicted class (over the 24 object classes) is theirs;
* accuracy with background: the same over all 25 classes (a mask called background is wrong);
* mIoU by voting: the label map where every mask is painted with its predicted class (over all
  25, background included) and the rest is background, scored like the dense benchmark
  (mmseg's IoU definition: per-class intersection / union summed over the set); "seen" and
  "unseen" average the IoUs of those object classes.

Writes results.md and results.csv. Needs no download.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

import numpy as np

METHODS = ('vanilla', 'maskclip', 'sclip', 'clearclip', 'naclip', 'cliptrase')
TEMPLATES = ['a photo of {}.', 'a picture of {}.', '{}.', 'an image of {}.']


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out-dir', default='work_dirs/synthetic_masks')
    parser.add_argument('--data-root', help='existing synthetic set (default: write a new one)')
    parser.add_argument('--n-val', type=int, default=200, help='validation images to write')
    parser.add_argument('--seed', type=int, default=0, help='seed of the synthetic set')
    parser.add_argument('--methods', nargs='+', default=list(METHODS), choices=METHODS)
    parser.add_argument('--logit-scale', type=float, default=100.0)
    return parser.parse_args()


def load_instances(data_root: Path) -> tuple[list[dict], set[int]]:
    """Validation images with their masks and classes; the set of unseen class indices."""
    from dense_clip.synthetic.dataset import rle_decode

    coco = json.loads((data_root / 'annotations' / 'instances_val.json').read_text())
    unseen = {c['id'] for c in coco['categories'] if c['split'] == 'unseen'}
    by_image: dict[int, list[dict]] = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    images = []
    for info in coco['images']:
        anns = by_image.get(info['id'], [])
        masks = np.stack([rle_decode(a['segmentation']) for a in anns]) if anns else \
            np.zeros((0, info['height'], info['width']), bool)
        images.append(dict(file=info['file_name'], masks=masks,
                           classes=np.array([a['category_id'] for a in anns], np.int64)))
    return images, unseen


def evaluate(method: str, data_root: Path, images: list[dict], unseen: set[int],
             logit_scale: float) -> dict[str, float]:
    """Accuracies and mIoU by voting (percent) of one last-block strategy."""
    import torch
    from mmseg.evaluation import IoUMetric
    from PIL import Image

    from dense_clip.models.clip import CLIPDenseEncoder
    from dense_clip.models.clip.constants import CLIP_MEAN, CLIP_STD
    from dense_clip.models.clip_source import CLIPSource
    from dense_clip.models.masks import classify_masks, mask_pool, paint_masks
    from dense_clip.models.text import Vocabulary, build_text_classifier

    source = CLIPSource('dense_clip:tiny-clip-synth')
    model, tokenizer = source.build()
    source.load_weights(model)
    model.eval()
    encoder = CLIPDenseEncoder(model, last_block=method, vanilla_cls=False)
    vocabulary = Vocabulary.load('synthetic')
    text = build_text_classifier(model, tokenizer, vocabulary, TEMPLATES).float()
    index = vocabulary.synonym_index()
    mean, std = np.array(CLIP_MEAN, np.float32), np.array(CLIP_STD, np.float32)
    num_classes = vocabulary.num_classes
    area_i = np.zeros(num_classes)
    area_u = np.zeros(num_classes)
    hits = {'seen': [], 'unseen': []}
    hits_bg = {'seen': [], 'unseen': []}
    with torch.no_grad():
        for item in images:
            rgb = np.array(Image.open(data_root / 'img_dir' / 'val' / item['file']).convert('RGB'))
            pixels = torch.from_numpy((rgb.astype(np.float32) - mean) / std)
            dense = encoder(pixels.permute(2, 0, 1)[None]).dense[0]
            masks = torch.from_numpy(item['masks'])
            result = classify_masks(mask_pool(dense, masks), text, index, num_classes,
                                    logit_scale)
            objects_only = result.probs[:, 1:].argmax(dim=1).numpy() + 1
            for truth, guess, full in zip(item['classes'], objects_only, result.labels.numpy()):
                split = 'unseen' if int(truth) in unseen else 'seen'
                hits[split].append(guess == truth)
                hits_bg[split].append(full == truth)
            painted = paint_masks(masks, result.labels, result.scores,
                                  torch.zeros(rgb.shape[:2], dtype=torch.long))
            gt = torch.from_numpy(np.array(Image.open(data_root / 'ann_dir' / 'val' /
                                                      item['file']))).long()
            i, u, _, _ = IoUMetric.intersect_and_union(painted, gt, num_classes, 255)
            area_i += i.numpy()
            area_u += u.numpy()
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = area_i / area_u
    seen_ids = [c for c in range(1, num_classes) if c not in unseen]
    unseen_ids = sorted(unseen)

    def mean(values: list) -> float:
        return 100.0 * float(np.mean(values)) if values else float('nan')

    return {
        'acc_seen': mean(hits['seen']), 'acc_unseen': mean(hits['unseen']),
        'acc_all': mean(hits['seen'] + hits['unseen']),
        'acc_bg_all': mean(hits_bg['seen'] + hits_bg['unseen']),
        'miou_seen': 100.0 * float(np.nanmean(iou[seen_ids])),
        'miou_unseen': 100.0 * float(np.nanmean(iou[unseen_ids])),
        'miou_all': 100.0 * float(np.nanmean(iou)),
        'masks': float(len(hits['seen']) + len(hits['unseen'])),
    }


COLUMNS = [('acc_all', 'accuracy'), ('acc_seen', 'acc. seen'), ('acc_unseen', 'acc. unseen'),
           ('acc_bg_all', 'acc. with background'), ('miou_all', 'mIoU by voting'),
           ('miou_seen', 'mIoU seen'), ('miou_unseen', 'mIoU unseen')]


def main() -> None:
    args = parse_args()
    from dense_clip.synthetic.dataset import write_dataset
    from dense_clip.utils.progress import track

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_root = Path(args.data_root) if args.data_root else Path(tmp) / 'synthetic'
        if not args.data_root:
            write_dataset(data_root, seed=args.seed, n_train=0, n_val=args.n_val)
        images, unseen = load_instances(data_root)
        for method in track(args.methods, 'mask classification', unit='method'):
            rows.append((method, evaluate(method, data_root, images, unseen, args.logit_scale)))
    with open(out_dir / 'results.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['method'] + [key for key, _ in COLUMNS])
        writer.writerows([[m] + [f'{r[key]:.2f}' for key, _ in COLUMNS] for m, r in rows])
    lines = ['| last block | ' + ' | '.join(title for _, title in COLUMNS) + ' |',
             '|---|' + '---:|' * len(COLUMNS)]
    lines += [f'| {m} | ' + ' | '.join(f'{r[key]:.2f}' for key, _ in COLUMNS) + ' |'
              for m, r in rows]
    table = '\n'.join(lines) + '\n'
    masks = int(rows[0][1]['masks']) if rows else 0
    (out_dir / 'results.md').write_text(table + f'\n{len(images)} images, {masks} masks\n')
    print(table)
    print(f'{len(images)} images, {masks} masks; written: {out_dir / "results.md"}')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
