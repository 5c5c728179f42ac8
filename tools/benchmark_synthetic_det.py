"""Open-vocabulary detection on the synthetic world: F-ViT, its baselines and zero-shot regions.

    python tools/benchmark_synthetic_det.py --checkpoint work_dirs/fvit_synth/iter_2000.pth \
        [--config configs/synthetic_det/fvit_tiny-clip_2k_synthetic-det.py] \
        [--clip-pretrained work_dirs/clipself_synth/clipself_student.pt] \
        [--data-root data/synthetic_det] [--out-dir work_dirs/synthetic_det_benchmark]

On the validation set (200 images by default, 24 classes, 6 of them unseen in training) it
reports, as AP50 on novel / base / all classes (mmdet's COCO evaluation, OVDetMetric):

* the trained F-ViT (``--checkpoint``), with and without the VLM-score fusion;
* the class-agnostic-box + random-label baseline: F-ViT's own boxes, merged across classes
  (class-agnostic NMS, IoU 0.5), each given a uniformly random class (mean of 5 seeds): the
  localisation is the detector's, the recognition is chance;
* zero-shot box classification with ground-truth boxes (RegionCLIP's protocol) by the frozen
  CLIP's region embeddings;

and the zero-shot region-classification accuracy on ground-truth boxes of unseen (and seen)
classes: the argmax over the 24 class embeddings of each box's region embedding (F-ViT's VLM
branch: 1x1 RoIAlign of the normalised value-path map). Writes results.md and results.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs' / 'synthetic_det' / 'fvit_tiny-clip_2k_synthetic-det.py'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', required=True, help='trained F-ViT checkpoint')
    parser.add_argument('--config', default=str(CONFIG))
    parser.add_argument('--clip-pretrained', help="CLIP weights that replace the checkpoint's "
                        'frozen CLIP (e.g. the CLIPSelf-tuned tiny CLIP the detector was '
                        'trained on, or to compare region classification of two CLIPs)')
    parser.add_argument('--data-root', default='data/synthetic_det',
                        help='the synthetic detection set (written if missing)')
    parser.add_argument('--n-val', type=int, default=200)
    parser.add_argument('--out-dir', default='work_dirs/synthetic_det_benchmark')
    parser.add_argument('--seeds', type=int, default=5, help='seeds of the random-label baseline')
    parser.add_argument('--limit', type=int, help='evaluate only the first N images (quick check)')
    return parser.parse_args()


def build(args):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import dense_clip.det  # noqa: F401
    from dense_clip.registry import DET_DATASETS, DET_MODELS
    from dense_clip.utils.checkpoint import check_state_dict_matches, safe_torch_load

    cfg = Config.fromfile(args.config)
    init_default_scope('mmdet')
    model_cfg = cfg.model
    model_cfg.text.class_split = cfg.class_split
    if args.clip_pretrained:
        model_cfg.backbone.clip.pretrained = args.clip_pretrained
    model = DET_MODELS.build(model_cfg)
    model.init_weights()
    state = safe_torch_load(args.checkpoint)
    state = state.get('state_dict', state)
    check_state_dict_matches(model, state, args.checkpoint)
    model.load_state_dict(state)
    if args.clip_pretrained:  # the checkpoint holds the frozen CLIP too: load it again
        model.backbone.source.load_weights(model.backbone.clip_model)
        model.text.reset()
    model.eval()
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.data_root = str(args.data_root) + '/'
    dataset = DET_DATASETS.build(dataset_cfg)
    torch.set_grad_enabled(False)
    return cfg, model, dataset


def metric_for(dataset):
    from dense_clip.det.evaluation import OVDetMetric

    metric = OVDetMetric(ann_file=None, metric='bbox')
    metric.dataset_meta = dataset.metainfo
    return metric


def ap50(metric, n: int) -> dict[str, float]:
    out = metric.evaluate(n)
    return {k: 100 * out[f'coco/{k}_ap50'] for k in ('novel', 'base', 'all')}


def main() -> None:
    args = parse_args()
    import copy

    import numpy as np
    import torch
    from mmcv.ops import nms
    from mmengine.dataset import pseudo_collate

    from dense_clip.synthetic.detection import write_detection_dataset

    root = Path(args.data_root)
    if not (root / 'annotations' / 'instances_val.json').is_file():
        write_detection_dataset(root, seed=0, n_train=1000, n_val=args.n_val)
    t0 = time.time()
    cfg, model, dataset = build(args)
    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    fused, plain, zero_shot = metric_for(dataset), metric_for(dataset), metric_for(dataset)
    random_metrics = [metric_for(dataset) for _ in range(args.seeds)]
    rngs = [np.random.default_rng(seed) for seed in range(args.seeds)]
    novel = model.text.novel_mask()
    hits = {'novel': [0, 0], 'base': [0, 0]}
    for index in range(n):
        data = model.data_preprocessor(pseudo_collate([dataset[index]]), training=False)
        inputs, samples = data['inputs'], data['data_samples']
        # F-ViT with and without the VLM fusion
        out = model.predict(inputs, copy.deepcopy(samples))[0]
        fused.process({}, [out.to_dict()])
        model.roi_head.fuse_vlm = False
        plain.process({}, [model.predict(inputs, copy.deepcopy(samples))[0].to_dict()])
        model.roi_head.fuse_vlm = True
        # class-agnostic boxes + random labels
        pred = out.pred_instances
        keep = nms(pred.bboxes, pred.scores, 0.5)[1] if len(pred.bboxes) else \
            torch.zeros(0, dtype=torch.long)
        for metric, rng in zip(random_metrics, rngs):
            sample = copy.deepcopy(out)
            labels = torch.from_numpy(rng.integers(0, len(novel), len(keep)))
            sample.pred_instances = type(pred)(bboxes=pred.bboxes[keep],
                                               scores=pred.scores[keep], labels=labels)
            metric.process({}, [sample.to_dict()])
        # zero-shot classification of the ground-truth boxes by the frozen CLIP's regions
        x, dense = model._features(inputs)
        gt = samples[0].gt_instances
        boxes = getattr(gt.bboxes, 'tensor', gt.bboxes)
        if len(boxes):
            classifier = model.roi_head.bbox_head.classifier
            emb = model.vlm_region(dense, [boxes], tuple(samples[0].metainfo['img_shape'][:2]))
            scores = (torch.nn.functional.normalize(emb, dim=-1)
                      @ classifier.class_embeddings.T * model.roi_head.vlm_temperature)
            probs = scores.softmax(-1)
            predicted = probs.argmax(-1)
            for label, guess in zip(gt.labels.tolist(), predicted.tolist()):
                group = 'novel' if bool(novel[label]) else 'base'
                hits[group][0] += int(label == guess)
                hits[group][1] += 1
            sample = copy.deepcopy(samples[0])
            scale = boxes.new_tensor(sample.metainfo['scale_factor']).repeat(2)
            sample.pred_instances = type(gt)(bboxes=boxes.repeat_interleave(len(novel), 0)
                                             / scale, scores=probs.flatten(),
                                             labels=torch.arange(len(novel)).repeat(len(boxes)))
            zero_shot.process({}, [sample.to_dict()])
    random_rows = [ap50(m, n) for m in random_metrics]  # evaluate() empties a metric
    rows = {
        'F-ViT (VLM fusion, alpha 0.1 / beta 0.8)': ap50(fused, n),
        'F-ViT without the VLM score': ap50(plain, n),
        f'class-agnostic boxes + random labels ({args.seeds} seeds)': {
            k: float(np.mean([r[k] for r in random_rows])) for k in ('novel', 'base', 'all')},
        'zero-shot box classification, ground-truth boxes': ap50(zero_shot, n),
    }
    accuracy = {g: 100 * h / max(t, 1) for g, (h, t) in hits.items()}
    accuracy['counts'] = {g: t for g, (_, t) in hits.items()}
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f'# Synthetic open-vocabulary detection ({n} val images)', '',
             f'checkpoint: `{args.checkpoint}`', f'config: `{args.config}`',
             f'CLIP weights: `{args.clip_pretrained or "embedded tiny CLIP"}`', '',
             '| method | novel AP50 | base AP50 | all AP50 |', '|---|---|---|---|']
    lines += [f'| {name} | {r["novel"]:.1f} | {r["base"]:.1f} | {r["all"]:.1f} |'
              for name, r in rows.items()]
    lines += ['', 'Zero-shot region classification of ground-truth boxes (24 classes, chance '
              f'4.2%): unseen {accuracy["novel"]:.1f}% of {accuracy["counts"]["novel"]} boxes, '
              f'seen {accuracy["base"]:.1f}% of {accuracy["counts"]["base"]}.', '',
              f'wall time {time.time() - t0:.0f} s']
    (out_dir / 'results.md').write_text('\n'.join(lines) + '\n')
    (out_dir / 'results.json').write_text(json.dumps(dict(ap50=rows, accuracy=accuracy),
                                                     indent=1) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
