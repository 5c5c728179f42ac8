"""Time per image of region classification with 10 vs 1,000 boxes: one CLIP pass per image.

    python tools/benchmark_regions.py [--arch ViT-B-16] [--size 640] [--boxes 10 1000] \
        [--images 3] [--precision fp32|bf16] [--threads 1]

Builds the named open_clip architecture with random weights (no download), then for each box
count classifies random boxes of each image against 80 random class embeddings: one dense pass
(MaskCLIP last block; ResNets also keep C4), the region embeddings (ViT: 1x1 RoIAlign on the dense
map; ResNet: RegionCLIP's RoIAlign 14x14 + res5 + attention pool per box), the zero-shot
classifier. It counts the CLIP passes (always one per image) and reports the median time per
image of each stage. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='ViT-B-16', help='open_clip architecture')
    parser.add_argument('--size', type=int, default=640, help='square image side, pixels')
    parser.add_argument('--boxes', type=int, nargs='+', default=[10, 1000])
    parser.add_argument('--images', type=int, default=3, help='timed images per box count')
    parser.add_argument('--classes', type=int, default=80)
    parser.add_argument('--precision', default='fp32', choices=['fp32', 'bf16'])
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    return parser.parse_args()


def random_boxes(n: int, size: int, generator) -> list:
    import torch

    xy = torch.rand(n, 2, generator=generator) * (size * 0.8)
    wh = torch.rand(n, 2, generator=generator) * (size * 0.2) + 8
    return torch.cat([xy, (xy + wh).clamp(max=size)], dim=1)


def main() -> None:
    args = parse_args()
    import open_clip
    import torch
    import torch.nn.functional as F

    from dense_clip.models.clip import CLIPDenseEncoder
    from dense_clip.models.region import RegionClassifier, RegionEncoder
    from dense_clip.models.text import Vocabulary

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = open_clip.create_model(args.arch, pretrained=None).eval()
    if args.precision == 'bf16':
        model = model.to(torch.bfloat16)
    encoder = CLIPDenseEncoder(model, last_block='maskclip', vanilla_cls=False)
    region = RegionEncoder(encoder)
    classifier = RegionClassifier(temperature=0.01)
    vocabulary = Vocabulary([f'class {i}' for i in range(args.classes)])
    text = F.normalize(torch.randn(args.classes, encoder.embed_dim), dim=-1)
    passes = []
    forward = encoder.forward

    def counted(*a, **k):
        passes.append(1)
        return forward(*a, **k)

    encoder.forward = counted
    generator = torch.Generator().manual_seed(0)
    rows = []
    with torch.no_grad():
        for n in args.boxes:
            timings = []
            passes.clear()
            for i in range(args.images + 1):  # the first image warms up
                image = torch.randn(1, 3, args.size, args.size)
                boxes = random_boxes(n, args.size, generator)
                t0 = time.perf_counter()
                dense = encoder(image, request=region.request)
                t1 = time.perf_counter()
                emb = region(dense, [boxes], (args.size, args.size))
                t2 = time.perf_counter()
                classifier(emb, text, vocabulary)
                t3 = time.perf_counter()
                if i:
                    timings.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
            cols = [statistics.median(t[j] for t in timings) for j in range(4)]
            rows.append((n, len(passes) / (args.images + 1), *cols))
    print(f'{args.arch} ({args.precision}, random weights), {args.size}x{args.size} image, '
          f'{args.classes} classes, {args.threads} thread(s), median of {args.images} images')
    print('| boxes / image | CLIP passes / image | dense pass s | regions s | classify s | '
          'total s / image |')
    print('|---|---|---|---|---|---|')
    for n, per_image, dense_s, region_s, cls_s, total in rows:
        print(f'| {n} | {per_image:g} | {dense_s:.3f} | {region_s:.3f} | {cls_s:.4f} | '
              f'{total:.3f} |')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
