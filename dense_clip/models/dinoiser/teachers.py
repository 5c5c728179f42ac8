"""Training targets for CLIP-DINOiser's heads: patch correlations and a foreground map.

A teacher maps a batch to targets on CLIP's patch grid:

* ``corr``: (B, N, N) float {0, 1}, binarised patch correlations;
* ``fg``: (B, 1, h, w) float {0, 1}, 1 = foreground (salient), the background head's target;
* ``valid``: (B, N) bool, patches that carry a target (all True except ignored oracle labels).

Teachers:

* ``ProxyTeacher``: a registered proxy model (DINO ViT-B/16 'v' features in the paper,
  ``enc_type_feats: "v"``). corr = [F̂ F̂ᵀ > 0.2] (the authors zero correlations below 0.2 and
  train against ``> 0``, wysoczanska/clip_dinoiser ``train.py``). fg: the paper uses FOUND's
  trained saliency (> 0.5). Here the background is the training-free discovery FOUND's decoder is
  trained from (Siméoni et al., CVPR 2023; valeoai/FOUND ``bkg_seg.py``
  ``compute_img_bkg_seg``): per-head CLS attention of the last block; head weights
  β_h = log(Σ_h' Q_h' / Q_h), Q_h = fraction of patches whose attention exceeds the image's mean;
  the seed is the patch with the least β-weighted attention; background = patches whose cosine
  to the seed (β-weighted per-head keys, FOUND's ``feats: k``) exceeds 0.3 (``bkg_th``).
  Differences from FOUND's released model: FOUND trains a 1x1 conv decoder on DINO ViT-S/8
  features with these masks plus a self-training loss and bilateral-solver refinement; we use the
  raw mined mask (no decoder, no self-training, no bilateral solver), with whichever proxy is
  configured, on CLIP's grid.
* ``OracleTeacher`` (synthetic benchmark): from ground-truth semantic labels. Each patch takes
  its majority label (area pooling); corr = [label_i == label_j] (same-object indicator when
  objects have distinct classes; with semantic labels, two objects of one class count as one),
  fg = [label != 0]. Patches whose majority label is the ignore index carry no target.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dense_clip.models.proxy import ProxyModel, build_proxy_model
from dense_clip.registry import TEACHERS, build_component

__all__ = ['OracleTeacher', 'ProxyTeacher', 'build_teacher', 'found_background']


def found_background(cls_attn: Tensor, keys: Tensor, threshold: float = 0.3,
                     head_weights: bool = True, eps: float = 1e-10) -> Tensor:
    """FOUND's training-free background mask.

    Args:
        cls_attn: (B, heads, h, w) CLS-to-patch attention of the last block.
        keys: (B, heads, h*w, d) patch keys of that block.
        threshold: cosine above which a patch is background (FOUND's ``bkg_th`` 0.3).
        head_weights: FOUND's attention-sparsity head weighting (``apply_weights=True``).
        eps: FOUND's epsilon.

    Returns:
        (B, h, w) bool, True = background.
    """
    b, heads, h, w = cls_attn.shape
    att = cls_attn.reshape(b, heads, h * w).float()
    if head_weights:
        mean = att.reshape(b, -1).mean(dim=1)
        q = (att > mean[:, None, None]).float().sum(dim=2) / (h * w)  # (B, heads)
        beta = torch.log((q + eps).sum(dim=1, keepdim=True) / (q + eps))
    else:
        beta = att.new_ones(b, heads)
    descs = (keys.float() * beta[:, :, None, None]).permute(0, 2, 1, 3).reshape(b, h * w, -1)
    descs = F.normalize(descs, dim=-1)
    seed = (att * beta[:, :, None]).sum(dim=1).argmin(dim=-1)  # (B,)
    sim = (descs @ descs[torch.arange(b), seed][:, :, None])[..., 0]  # (B, h*w)
    return (sim > threshold).reshape(b, h, w)


@TEACHERS.register_module(name='proxy')
class ProxyTeacher(nn.Module):
    """Targets from a proxy model's features (see the module docstring).

    Args:
        proxy: proxy config (``dict(type='dino_vitb16', feature='v', pretrained=True)``).
        corr_threshold: correlations above it are positive (0.2).
        background: 'found' (training-free FOUND mask, needs a ViT proxy with a CLS token) or
            None (no foreground target; the background loss is skipped).
        found_threshold: FOUND's ``bkg_th`` (0.3).
    """

    def __init__(self, proxy: dict | str | ProxyModel, corr_threshold: float = 0.2,
                 background: str | None = 'found', found_threshold: float = 0.3) -> None:
        super().__init__()
        if background not in ('found', None):
            raise ValueError(f"background must be 'found' or None, got {background!r}")
        self.proxy = build_proxy_model(proxy)
        self.corr_threshold = corr_threshold
        self.background = background
        self.found_threshold = found_threshold

    @torch.no_grad()
    def forward(self, images: Tensor, data_samples: list | None, grid: tuple[int, int]
                ) -> dict[str, Tensor]:
        if self.background == 'found':
            parts = self.proxy.attention_parts(images)
            feats = parts['feats']
            bkg = found_background(parts['cls_attn'], parts['keys'], self.found_threshold)
        else:
            feats, bkg = self.proxy(images), None
        if tuple(feats.shape[-2:]) != tuple(grid):
            feats = F.normalize(F.interpolate(feats, size=grid, mode='bilinear',
                                              align_corners=False), dim=1)
        f = feats.flatten(2)
        corr = (f.transpose(1, 2) @ f > self.corr_threshold).float()
        out = {'corr': corr, 'valid': torch.ones(corr.shape[:2], dtype=torch.bool,
                                                 device=corr.device)}
        if bkg is not None:
            fg = (~bkg).float()[:, None]
            if tuple(fg.shape[-2:]) != tuple(grid):
                fg = (F.interpolate(fg, size=grid, mode='bilinear', align_corners=False) > 0.5)
            out['fg'] = fg.float()
        return out


@TEACHERS.register_module(name='oracle')
class OracleTeacher(nn.Module):
    """Targets from ground-truth semantic labels (synthetic benchmark; see the module docstring).

    Args:
        ignore_index: label value without a target (255).
        background_label: label of the background class (0).
    """

    def __init__(self, ignore_index: int = 255, background_label: int = 0) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.background_label = background_label

    @staticmethod
    def patch_labels(labels: Tensor, grid: tuple[int, int], ignore_index: int = 255) -> Tensor:
        """(B, H, W) long labels -> (B, h, w) majority label per cell (area pooling).

        Rows/columns beyond a whole number of cells are dropped when H, W are multiples of the
        grid's cell size; otherwise area interpolation spreads pixels over cells.
        """
        labels = labels.long().clone()
        valid_max = int(labels[labels != ignore_index].max()) if (labels != ignore_index).any() \
            else 0
        labels[labels == ignore_index] = valid_max + 1
        onehot = F.one_hot(labels, valid_max + 2).permute(0, 3, 1, 2).float()
        pooled = F.interpolate(onehot, size=grid, mode='area')
        majority = pooled.argmax(dim=1)
        majority[majority == valid_max + 1] = ignore_index
        return majority

    @torch.no_grad()
    def forward(self, images: Tensor, data_samples: list, grid: tuple[int, int]
                ) -> dict[str, Tensor]:
        if not data_samples or not hasattr(data_samples[0], 'gt_sem_seg'):
            raise ValueError('OracleTeacher needs data samples with gt_sem_seg')
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).to(images.device)
        cells = self.patch_labels(labels, grid, self.ignore_index).flatten(1)  # (B, N)
        valid = cells != self.ignore_index
        corr = (cells[:, :, None] == cells[:, None, :]).float()
        fg = (cells != self.background_label).float().reshape(-1, 1, *grid)
        return {'corr': corr, 'fg': fg, 'valid': valid}


def build_teacher(cfg: dict | nn.Module | None) -> nn.Module | None:
    """Builds a teacher from ``dict(type='oracle' | 'proxy', ...)``; None stays None.

    Raises:
        ValueError: unknown type; the message lists the valid ones.
    """
    if cfg is None:
        return None
    return build_component(TEACHERS, cfg, nn.Module)
