"""CLIPtrase's cluster vote (a labels-stage step): DBSCAN over patch self-correlation, then a
majority vote per cluster.

Shao et al., "Explore the Potential of CLIP for Training-Free Open Vocabulary Semantic
Segmentation", ECCV 2024. Settings from the authors' public evaluation script
(leaves162/CLIPtrase ``clip_self_correlation.py``): DBSCAN with eps 0.7 and min_samples 3 at 224
px (1.1 / 7 at 336) on the rows of the recalibrated self-correlation (Euclidean distance between
rows); each cluster's map is the mean of its members' rows, upsampled 4x (bilinear), median
filtered (size 7), resized to the image and arg-maxed over clusters; every pixel then takes the
most frequent predicted label of its cluster. Noise points form no cluster.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import median_filter

from dense_clip.registry import SEG_STEPS

from .base import Prediction, SegStep, StepContext

__all__ = ['ClusterVote', 'cluster_vote', 'dbscan']


def dbscan(points: torch.Tensor, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN with Euclidean distances, labelling in scikit-learn's order.

    Args:
        points: ``(n, d)`` float.
        eps: neighbourhood radius (inclusive).
        min_samples: neighbours (the point itself included) that make a core point.

    Returns:
        ``(n,)`` int64 cluster labels 0..k-1, -1 for noise. Clusters are numbered in the order
        of their first core point; a border point joins the first cluster that reaches it.
    """
    dist = torch.cdist(points.double(), points.double())
    neighbours = [np.flatnonzero(row) for row in (dist <= eps).cpu().numpy()]
    core = np.array([len(n) >= min_samples for n in neighbours])
    labels = np.full(len(neighbours), -1, dtype=np.int64)
    next_label = 0
    for start in range(len(neighbours)):
        if labels[start] != -1 or not core[start]:
            continue
        stack = [start]
        while stack:
            i = stack.pop()
            if labels[i] != -1:
                continue
            labels[i] = next_label
            if core[i]:
                stack.extend(j for j in neighbours[i] if labels[j] == -1)
        next_label += 1
    return labels


def cluster_vote(labels: torch.Tensor, correlation: torch.Tensor, grid: tuple[int, int],
                 eps: float = 0.7, min_samples: int = 3, ratio: int = 4) -> torch.Tensor:
    """Replaces each pixel's label by its cluster's most frequent label.

    Args:
        labels: ``(H, W)`` long predicted labels at image resolution.
        correlation: ``(h*w, h*w)`` recalibrated patch self-correlation.
        grid: the patch grid ``(h, w)``.
        eps, min_samples: DBSCAN settings.
        ratio: upsampling factor before the median filter (size ``2 * ratio - 1``).

    Returns:
        ``(H, W)`` long labels; unchanged when DBSCAN finds no cluster.
    """
    h, w = grid
    members = torch.from_numpy(dbscan(correlation, eps, min_samples)).to(labels.device)
    clusters = int(members.max()) + 1
    if clusters == 0:
        return labels
    maps = torch.stack([correlation[members == c].mean(dim=0) for c in range(clusters)])
    maps = F.interpolate(maps.reshape(1, clusters, h, w).float(), size=(ratio * h, ratio * w),
                         mode='bilinear', align_corners=False)[0]
    filtered = np.stack([median_filter(m, size=2 * ratio - 1) for m in maps.cpu().numpy()])
    maps = F.interpolate(torch.from_numpy(filtered)[None], size=labels.shape, mode='bilinear',
                         align_corners=False)[0]
    assignment = maps.argmax(dim=0).to(labels.device)
    voted = labels.clone()
    for c in range(clusters):
        inside = assignment == c
        if inside.any():
            values, counts = labels[inside].unique(return_counts=True)
            voted[inside] = values[counts.argmax()]
    return voted


@SEG_STEPS.register_module()
class ClusterVote(SegStep):
    """Labels step: CLIPtrase's cluster vote over the whole image's self-correlation.

    Needs ``test_cfg.mode='whole'`` and a last block that returns a 'self_correlation'
    (``last_block='cliptrase'``).

    Args:
        eps: DBSCAN radius (authors: 0.7 at 224 px, 1.1 at 336 px).
        min_samples: DBSCAN core size (authors: 3 at 224 px, 7 at 336 px).
        ratio: upsampling factor before the median filter (4).
    """

    stage = 'labels'
    bounded_ok = True  # reads the labels only
    needs_whole_image = True
    needs_extras = ('self_correlation',)

    def __init__(self, eps: float = 0.7, min_samples: int = 3, ratio: int = 4) -> None:
        super().__init__()
        self.eps = float(eps)
        self.min_samples = int(min_samples)
        self.ratio = int(ratio)

    def forward(self, pred: Prediction, ctx: StepContext) -> Prediction:
        if ctx.dense is None or 'self_correlation' not in ctx.dense.extras:
            raise ValueError("ClusterVote needs the whole-image pass's 'self_correlation'")
        correlation = ctx.dense.extras['self_correlation'][0].float()
        pred.labels = cluster_vote(pred.labels[0], correlation, ctx.dense.grid, self.eps,
                                   self.min_samples, self.ratio)[None]
        return pred

    def extra_repr(self) -> str:
        return f'eps={self.eps}, min_samples={self.min_samples}, ratio={self.ratio}'
