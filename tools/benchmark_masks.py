"""Speed of SAM + dense CLIP: mask classification for 10, 100 and 1,000 masks per image (one
CLIP pass), and the automatic mask generator's share of the total.

    python tools/benchmark_masks.py [--size 1024 683] [--threads 1] [--repeats 3] [--bf16]

Random weights throughout (timing only, no download): CLIP ViT-B/16 (open_clip architecture),
the MaskCLIP dense map of the whole image, 80 class embeddings (COCO's count); N random masks
at image resolution (rectangles of random size and place); and SAM ViT-B's automatic generator
with its own settings (32 x 32 points, batches of 64). With random SAM weights the generator's
quality thresholds drop every mask, so its timing covers the image encoder and the decoding of
all 1,024 point prompts but not the post-processing of surviving masks (small next to those).
Reports the median of ``--repeats`` runs of each part.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

COUNTS = (10, 100, 1000)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(1024, 683), metavar=('W', 'H'),
                        help="image size (default: a 3:2 image at SAM's 1024 px long side)")
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--classes', type=int, default=80)
    parser.add_argument('--bf16', action='store_true', help='CLIP in bfloat16')
    parser.add_argument('--no-sam', action='store_true', help='skip the SAM generator')
    return parser.parse_args()


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_masks(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    masks = torch.zeros(n, height, width, dtype=torch.bool)
    for i in range(n):
        h, w = rng.integers(8, height // 2), rng.integers(8, width // 2)
        y, x = rng.integers(0, height - h), rng.integers(0, width - w)
        masks[i, y:y + h, x:x + w] = True
    return masks


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    import open_clip

    from dense_clip.models.clip import CLIPDenseEncoder
    from dense_clip.models.masks import classify_masks, mask_pool
    from dense_clip.models.sam import SAMAutomaticMasks

    width, height = args.size
    torch.manual_seed(0)
    clip = open_clip.create_model('ViT-B-16', pretrained=None).eval()
    if args.bf16:
        clip = clip.to(torch.bfloat16)
    encoder = CLIPDenseEncoder(clip, last_block='maskclip', vanilla_cls=False)
    image = torch.randn(1, 3, height, width)
    text = torch.nn.functional.normalize(torch.randn(args.classes, encoder.embed_dim), dim=-1)
    index = torch.arange(args.classes)
    dtype = next(clip.parameters()).dtype
    with torch.no_grad():
        dense = encoder(image.to(dtype)).dense[0].float()
        clip_s = median_time(lambda: encoder(image.to(dtype)), args.repeats)
        rows = []
        for n in COUNTS:
            masks = random_masks(n, height, width)

            def classify(masks=masks):
                return classify_masks(mask_pool(dense, masks), text, index, args.classes)

            rows.append((n, median_time(classify, args.repeats)))
    print(f'image {width}x{height}, CLIP ViT-B/16 ({"bf16" if args.bf16 else "fp32"}), '
          f'{args.classes} classes, {args.threads} thread(s), median of {args.repeats}')
    print('| masks | dense CLIP pass (s) | pooling + classification (s) | total (s) |')
    print('|---:|---:|---:|---:|')
    for n, seconds in rows:
        print(f'| {n} | {clip_s:.3f} | {seconds:.3f} | {clip_s + seconds:.3f} |')
    if args.no_sam:
        return
    generator = SAMAutomaticMasks(sam=dict(model_type='vit_b'))
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    sam_s = median_time(lambda: generator(rgb), max(1, args.repeats // 3))
    total = sam_s + clip_s + rows[1][1]
    print(f'SAM ViT-B automatic generator (32x32 points): {sam_s:.2f} s; with the CLIP pass '
          f'and 100 masks classified: {total:.2f} s, of which SAM {100 * sam_s / total:.1f}%')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
