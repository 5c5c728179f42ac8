"""Small probe of the tiny CLIP: zero-shot accuracy and training-free dense mIoU.

Last-block variants on open_clip's VisionTransformer (configs/_base_/protocols.md):
- vanilla: the unchanged block.
- maskclip: each token takes its own v: x + out(v), then + mlp(ln_2(.)) (MaskCLIP, ECCV'22).
- sclip: softmax(q q^T s) + softmax(k k^T s), residual and FFN kept (SCLIP).
- clearclip: out(softmax(q q^T s) v), no residual, no FFN (ClearCLIP).
Then ln_post, proj, cosine to the template-averaged class text embeddings, max over synonyms.
Background: either the background class prompt (class 0 = 'background' + material names) or a
threshold on the top foreground probability (softmax at logit scale 100); 'oracle' gives the
true background mask as a diagnostic.

This is an exploration probe; the project's real implementations live in dense_clip/models.

Example:
    python tools/synthetic_probe.py --ckpt dense_clip/data/tiny_clip/tiny_clip_synth.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_clip.synthetic import dataset, world  # noqa: E402
from dense_clip.synthetic import tiny_clip as tc  # noqa: E402

METHODS = ('vanilla', 'maskclip', 'sclip', 'clearclip')
# prompt: class 0 is a text class; thresh: top foreground probability < thr -> background;
# oracle: the true background mask is given (a diagnostic upper bound, not a method).
BG_MODES = ('prompt', 'thresh', 'oracle')


def _heads(t: torch.Tensor, n_head: int) -> torch.Tensor:
    b, n, d = t.shape
    return t.view(b, n, n_head, d // n_head).transpose(1, 2)  # (B, h, N, d_h)


def last_block(block: torch.nn.Module, x: torch.Tensor, method: str) -> torch.Tensor:
    """Applies the last ResidualAttentionBlock under ``method``; x: (B, N, D) batch-first."""
    if method == 'vanilla':
        return block(x)
    attn = block.attn
    y = block.ln_1(x)
    q, k, v = F.linear(y, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    h = attn.num_heads
    q, k, v = _heads(q, h), _heads(k, h), _heads(v, h)
    scale = q.shape[-1] ** -0.5
    if method == 'maskclip':
        out = v
    elif method == 'sclip':
        qq = (q @ q.transpose(-2, -1) * scale).softmax(-1)
        out = (qq + (k @ k.transpose(-2, -1) * scale).softmax(-1)) @ v
    elif method == 'clearclip':
        out = (q @ q.transpose(-2, -1) * scale).softmax(-1) @ v
    else:
        raise ValueError(f'Unknown method {method!r}; valid: {METHODS}')
    out = attn.out_proj(out.transpose(1, 2).reshape(x.shape))
    if method == 'clearclip':
        return out
    x = x + block.ls_1(out)
    return x + block.ls_2(block.mlp(block.ln_2(x)))


@torch.no_grad()
def dense_features(model: torch.nn.Module, images: torch.Tensor, method: str) -> torch.Tensor:
    """(B, 3, H, W) normalised images -> (B, D, H/p, W/p) L2-normalised patch features."""
    vis = model.visual
    x = vis._embeds(images)
    blocks = list(vis.transformer.resblocks)
    for blk in blocks[:-1]:
        x = blk(x)
    x = last_block(blocks[-1], x, method)
    x = vis.ln_post(x)[:, 1:] @ vis.proj
    g = int(round(x.shape[1] ** 0.5))
    return F.normalize(x, dim=-1).transpose(1, 2).reshape(x.shape[0], -1, g, g)


@torch.no_grad()
def predict(model, images: torch.Tensor, method: str, cls: torch.Tensor, bg: str,
            thr: float) -> torch.Tensor:
    """Per-pixel labels (B, H, W) int64; cls: (25, S, D) with class 0 the background."""
    feats = dense_features(model, images, method)
    logits = torch.einsum('bdhw,csd->bcshw', feats, cls).amax(2) * 100.0
    logits = F.interpolate(logits, size=images.shape[-2:], mode='bilinear', align_corners=False)
    if bg == 'prompt':
        return logits.argmax(1)
    if bg == 'oracle':  # foreground argmax; the caller masks in the true background
        return logits[:, 1:].argmax(1) + 1
    prob = logits[:, 1:].softmax(1)
    top, arg = prob.max(1)
    return torch.where(top < thr, torch.zeros_like(arg), arg + 1)


def miou(conf: np.ndarray) -> tuple[float, np.ndarray]:
    """mmseg-style mIoU from a (C, C) confusion matrix (rows gt); absent classes ignored."""
    inter = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - inter
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = inter / union
    iou[conf.sum(1) == 0] = np.nan
    return float(np.nanmean(iou)), iou


@torch.no_grad()
def evaluate(model, tokenizer, n_val: int = 200, n_cls: int = 480, seed: int = 0,
             thr: float = 0.5) -> dict:
    """Zero-shot accuracy and dense mIoU of every method and background mode."""
    cats = world.categories()
    templates = list(world.CAPTION_TEMPLATES)
    ximg, ylab = dataset.classification_set(seed + 1000, n_cls)
    fg = tc.text_classifier(model, tokenizer, [c.synonyms for c in cats], templates)
    feats = model.encode_image(tc.to_tensor(ximg), normalize=True)
    pred = torch.einsum('bd,csd->bcs', feats, fg).amax(-1).argmax(-1).numpy()
    seen = np.array([cats[i].seen for i in ylab])
    res: dict = {'zs_acc': float((pred == ylab).mean()),
                 'zs_seen': float((pred == ylab)[seen].mean()),
                 'zs_unseen': float((pred == ylab)[~seen].mean())}
    names = [world.background_names()] + [c.synonyms for c in cats]
    cls = tc.text_classifier(model, tokenizer, names, templates)
    scenes = [dataset.segmentation_scene(seed, 'val', i) for i in range(n_val)]
    images = tc.to_tensor(np.stack([s.image for s in scenes]))
    labels = np.stack([s.label for s in scenes]).astype(np.int64)
    unseen = np.array([0] + [0 if c.seen else 1 for c in cats], bool)
    for method in METHODS:
        for bg in BG_MODES:
            out = predict(model, images, method, cls, bg, thr).numpy()
            if bg == 'oracle':
                out[labels == 0] = 0
            conf = np.bincount(labels.ravel() * 25 + out.ravel(), minlength=625).reshape(25, 25)
            m, iou = miou(conf)
            res[f'{method}/{bg}'] = round(m, 4)
            if bg == 'prompt':
                res[f'{method}/{bg}/unseen'] = round(float(np.nanmean(iou[unseen])), 4)
                res[f'{method}/{bg}/bg_iou'] = round(float(iou[0]), 4)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--ckpt', default=str(tc.CHECKPOINT))
    p.add_argument('--n-val', type=int, default=200)
    p.add_argument('--thr', type=float, default=0.5)
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = tc.load_tiny_clip(args.ckpt)
    res = evaluate(model, tokenizer, n_val=args.n_val, thr=args.thr)
    print(json.dumps(res))


if __name__ == '__main__':
    main()
