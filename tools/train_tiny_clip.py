"""Trains the embedded tiny CLIP on image-caption pairs of the synthetic world.

The model is ``open_clip.CLIP(**cfg)`` (see ``dense_clip/synthetic/tiny_clip.py``), trained from
scratch with the symmetric contrastive loss. Captions that occur several times in a batch are
encoded once and count as one text with several positive images (uniform soft target on the
text->image side), so identical captions are never pushed apart. Only seen categories appear.

The defaults are the shipped checkpoint's recipe; its exact command is recorded in its JSON:
    python tools/train_tiny_clip.py --seed 0 --steps 4500 --pool-size 24000 --layers 2 \
        --attr-prob 0.5 --threads 1 --workers 1 --log-every 250
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing as mp
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_clip.synthetic import tiny_clip as tc  # noqa: E402
from dense_clip.synthetic import world  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_probe  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--steps', type=int, default=4500)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--wd', type=float, default=0.1)
    p.add_argument('--warmup', type=int, default=50)
    p.add_argument('--pool-size', type=int, default=24000, help='pre-rendered training scenes')
    p.add_argument('--counts', type=float, nargs='+', default=[0.15, 0.55, 0.2, 0.1],
                   help='probabilities of 0, 1, 2, ... objects per training scene')
    p.add_argument('--background-prob', type=float, default=0.5,
                   help='probability that a caption names the background material')
    p.add_argument('--attr-prob', type=float, default=0.5,
                   help='probability that an object phrase names its colour or texture only')
    p.add_argument('--radius', type=float, nargs=2, default=[12.0, 22.0])
    p.add_argument('--closeup-prob', type=float, default=0.0,
                   help='probability that a training scene is a close-up of one object')
    p.add_argument('--closeup-radius', type=float, nargs=2, default=[28.0, 44.0])
    p.add_argument('--pool-type', default='avg', choices=['avg', 'tok'])
    p.add_argument('--width', type=int, default=128)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--text-width', type=int, default=128)
    p.add_argument('--text-layers', type=int, default=4)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--workers', type=int, default=1, help='processes rendering the pool')
    p.add_argument('--out', default=str(tc.CHECKPOINT))
    p.add_argument('--log-every', type=int, default=200)
    p.add_argument('--device', default='cpu')
    p.add_argument('--probe-val', type=int, default=200, help='val images for the final probe')
    return p.parse_args()


def model_cfg(args: argparse.Namespace) -> dict:
    """The open_clip config dict for these arguments."""
    cfg = copy.deepcopy(tc.TINY_CLIP_CFG)
    cfg['vision_cfg'].update(pool_type=args.pool_type, width=args.width, layers=args.layers)
    cfg['text_cfg'].update(width=args.text_width, layers=args.text_layers)
    return cfg


def _render_chunk(job: tuple) -> tuple[np.ndarray, list]:
    seed, start, stop, counts, radius, closeup_prob, closeup_radius = job
    seen = [c for c in world.categories() if c.seen]
    images, metas = [], []
    for i in range(start, stop):
        rng = np.random.default_rng([seed, 1, i])
        if closeup_prob > 0 and rng.random() < closeup_prob:
            cats = [seen[int(rng.integers(len(seen)))]]
            scene = world.render_scene(rng, cats, radius_range=tuple(closeup_radius))
        else:
            cats = world.sample_categories(rng, seen, tuple(counts))
            scene = world.render_scene(rng, cats, radius_range=tuple(radius))
        images.append(scene.image)
        metas.append(([o.category.index for o in scene.objects], scene.background))
    return np.stack(images), metas


def render_pool(args: argparse.Namespace) -> tuple[np.ndarray, list]:
    """Renders the training scenes: (N, 64, 64, 3) uint8 and per scene (category ids, material)."""
    n, chunk = args.pool_size, 1000
    jobs = [(args.seed, s, min(s + chunk, n), args.counts, args.radius, args.closeup_prob,
             args.closeup_radius) for s in range(0, n, chunk)]
    if args.workers > 1:
        with mp.get_context('fork').Pool(args.workers) as pool:
            parts = pool.map(_render_chunk, jobs)
    else:
        parts = [_render_chunk(j) for j in jobs]
    return np.concatenate([p[0] for p in parts]), [m for p in parts for m in p[1]]


class _CaptionScene:
    """Just enough of a Scene for :func:`world.caption`."""

    def __init__(self, cat_ids: list[int], background: str, cats: list) -> None:
        self.objects = [world.ObjectSpec(cats[i - 1], '', np.empty(0)) for i in cat_ids]
        self.background = background


def batch(
    rng: np.random.Generator, images: np.ndarray, metas: list, args: argparse.Namespace, cats: list
) -> tuple[torch.Tensor, list[str]]:
    """A random batch: dihedral-augmented images (B, 3, 64, 64) and one fresh caption each."""
    idx = rng.integers(0, len(images), args.batch_size)
    imgs = images[idx]
    k = int(rng.integers(4))
    imgs = np.rot90(imgs, k, axes=(1, 2))
    if rng.random() < 0.5:
        imgs = imgs[:, :, ::-1]
    caps = [
        world.caption(rng, _CaptionScene(*metas[i], cats), args.background_prob, args.attr_prob)
        for i in idx
    ]
    return tc.to_tensor(np.ascontiguousarray(imgs)), caps


def contrastive_loss(
    model: torch.nn.Module, images: torch.Tensor, captions: list[str], tokenizer
) -> torch.Tensor:
    """Symmetric InfoNCE with identical captions merged into one multi-positive text."""
    uniq = sorted(set(captions))
    col = torch.tensor([uniq.index(c) for c in captions], device=images.device)
    img = model.encode_image(images, normalize=True)
    txt = model.encode_text(tokenizer(uniq).to(images.device), normalize=True)
    logits = model.logit_scale.exp() * img @ txt.t()  # (B, U)
    loss_i2t = F.cross_entropy(logits, col)
    target = F.one_hot(col, len(uniq)).float().t()  # (U, B)
    target = target / target.sum(1, keepdim=True)
    loss_t2i = -(target * F.log_softmax(logits.t(), dim=1)).sum(1).mean()
    return (loss_i2t + loss_t2i) / 2


class CompactTokenEmbedding(torch.nn.Module):
    """Training-time stand-in for the token table: only the world's rows are parameters.

    Token ids outside ``ids`` map to row 0, which is zero and gets no gradient (such tokens only
    appear as padding after the end-of-text token, which the causal text tower never reads).
    Numerically identical to the full table with zeros outside ``ids``.
    """

    def __init__(self, full: torch.Tensor, ids: torch.Tensor) -> None:
        super().__init__()
        lut = torch.zeros(full.shape[0], dtype=torch.int64)
        lut[ids] = torch.arange(1, len(ids) + 1)
        self.register_buffer('lut', lut, persistent=False)
        self.ids = ids
        rows = torch.cat([torch.zeros(1, full.shape[1]), full[ids]])
        self.weight = torch.nn.Parameter(rows.clone())

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return F.embedding(self.lut.to(text.device)[text], self.weight)

    def full_table(self) -> torch.Tensor:
        """The (vocab, width) table with zeros outside ``ids``."""
        if self.weight[0].abs().sum() != 0:
            raise RuntimeError('padding row changed')
        table = torch.zeros(self.lut.shape[0], self.weight.shape[1])
        table[self.ids] = self.weight[1:].detach().cpu()
        return table


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    images, metas = render_pool(args)
    print(f'rendered {len(images)} scenes in {time.time() - t0:.0f}s', flush=True)
    cfg = model_cfg(args)
    model = tc.build_tiny_clip(cfg)
    tokenizer = tc.get_tokenizer(cfg)
    ids = tc.vocabulary_token_ids(world.world_vocabulary(), tokenizer)
    tc.restrict_token_table(model, ids)
    model.token_embedding = CompactTokenEmbedding(model.token_embedding.weight.detach(), ids)
    model.to(args.device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and 'embedding' not in n]
    other = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and 'embedding' not in n)]
    opt = torch.optim.AdamW(
        [{'params': decay, 'weight_decay': args.wd}, {'params': other, 'weight_decay': 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-6,
    )

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * t))

    rng = np.random.default_rng([args.seed, 3])
    cats = world.categories()
    model.train()
    t1 = time.time()
    for step in range(args.steps):
        for group in opt.param_groups:
            group['lr'] = lr_at(step)
        x, caps = batch(rng, images, metas, args, cats)
        x = x.to(args.device)
        loss = contrastive_loss(model, x, caps, tokenizer)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if (step + 1) % args.log_every == 0 or step == 0:
            print(f'step {step + 1}/{args.steps} loss {loss.item():.4f} '
                  f'scale {model.logit_scale.exp().item():.1f} {time.time() - t1:.0f}s', flush=True)
    train_s = time.time() - t0
    model.eval().cpu()
    table = model.token_embedding.full_table()
    model.token_embedding = torch.nn.Embedding(*table.shape)
    model.token_embedding.weight.data.copy_(table)
    metrics = synthetic_probe.evaluate(model, tokenizer, n_val=args.probe_val)
    print('probe', json.dumps(metrics), flush=True)
    meta = {
        'command': 'python ' + shlex.join(['tools/train_tiny_clip.py', *sys.argv[1:]]),
        'seed': args.seed,
        'torch': torch.__version__,
        'threads': args.threads,
        'train_wall_time_s': round(train_s, 1),
        'probe': metrics,
    }
    record = tc.save_tiny_clip(model, cfg, args.out, meta)
    print(f"saved {args.out} ({record['bytes']} bytes, sha256 {record['sha256']})", flush=True)


if __name__ == '__main__':
    main()
