"""The classifier of F-ViT's box head: cosine similarity to class text embeddings x temperature.

wusize/CLIPSelf ``F-ViT/models/fvit_head.py`` ``FViTBBoxHead.forward``: the class branch's feature
is L2-normalised and multiplied with the L2-normalised class embeddings plus a background
embedding (the text embedding of "background", or a learned one when ``learn_bg``), times a
temperature that is learned from 50 (``fixed_temperature=0``, ``learned_temperature=50.0``).
During training, novel classes are masked out (their logits are -inf), as the authors'
``CustomCrossEntropyLoss`` does for classes of weight 0.

Built by mmdet's ``ConvFCBBoxHead`` in place of its linear ``fc_cls`` (``cls_predictor_cfg``).
The class embeddings are not weights: the detector computes them from its CLIP's text tower and
hands them over with :meth:`set_class_embeddings` before each forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dense_clip.registry import DET_MODELS

__all__ = ['BACKGROUND_EMBEDDINGS', 'TextEmbeddingClassifier']

BACKGROUND_EMBEDDINGS = ('text', 'learned', 'zero')


@DET_MODELS.register_module()
class TextEmbeddingClassifier(nn.Module):
    """Logits (N, C + 1) = T * normalise(x) @ normalise([class embeddings; background])ᵀ.

    Args:
        in_features: width of the class branch; must equal the text embedding width D.
        out_features: C + 1 (classes and background), given by mmdet's head.
        temperature: initial (or fixed) T.
        learn_temperature: T is a parameter (F-ViT) or a constant.
        background: 'text' (the text embedding of "background", fixed; F-ViT's configs),
            'learned' (a parameter initialised from it; the authors' ``learn_bg=True``) or
            'zero' (a constant 0 logit).
    """

    def __init__(self, in_features: int, out_features: int, temperature: float = 50.0,
                 learn_temperature: bool = True, background: str = 'text') -> None:
        super().__init__()
        if background not in BACKGROUND_EMBEDDINGS:
            raise ValueError(f'background must be one of {BACKGROUND_EMBEDDINGS}, got '
                             f'{background!r}')
        self.in_features = in_features
        self.num_classes = out_features - 1
        self.background = background
        if learn_temperature:
            self.temperature = nn.Parameter(torch.tensor(float(temperature)))
        else:
            self.register_buffer('temperature', torch.tensor(float(temperature)))
        if background == 'learned':
            self.bg_embedding = nn.Parameter(torch.zeros(in_features))
            # Set once from the text embedding of "background", then trained and saved.
            self.register_buffer('bg_initialised', torch.tensor(False))
        self.register_buffer('class_embeddings', torch.zeros(0, in_features), persistent=False)
        self.register_buffer('text_background', torch.zeros(in_features), persistent=False)
        self.register_buffer('novel', torch.zeros(self.num_classes, dtype=torch.bool),
                             persistent=False)

    def set_class_embeddings(self, classes: Tensor, background: Tensor | None = None,
                             novel: Tensor | None = None) -> None:
        """Hands over (C, D) class embeddings, the (D,) "background" text embedding and the (C,)
        novel mask (masked to -inf in training)."""
        if classes.shape != (self.num_classes, self.in_features):
            raise ValueError(f'class embeddings {tuple(classes.shape)} do not fit a head for '
                             f'{self.num_classes} classes of width {self.in_features}: set the '
                             "head's num_classes to the vocabulary size and fc_out_channels to "
                             "the CLIP's embedding width")
        device = self.class_embeddings.device
        self.class_embeddings = F.normalize(classes.float(), dim=-1).to(device)
        if background is not None:
            self.text_background = F.normalize(background.float(), dim=-1).to(device)
            if self.background == 'learned' and not bool(self.bg_initialised):
                with torch.no_grad():
                    self.bg_embedding.copy_(self.text_background)
                    self.bg_initialised.fill_(True)
        if novel is not None:
            self.novel = novel.to(device=device, dtype=torch.bool)

    def all_embeddings(self) -> Tensor:
        """(C + 1, D) normalised class embeddings and the background row (zeros for 'zero')."""
        if self.class_embeddings.shape[0] != self.num_classes:
            raise RuntimeError('no class embeddings: the detector must call '
                               'set_class_embeddings before the head runs')
        if self.background == 'learned':
            bg = F.normalize(self.bg_embedding, dim=-1)
        elif self.background == 'text':
            bg = self.text_background
        else:
            bg = torch.zeros_like(self.text_background)
        return torch.cat([self.class_embeddings, bg[None]], dim=0)

    def forward(self, x: Tensor) -> Tensor:
        """(N, D) class-branch features -> (N, C + 1) logits."""
        logits = F.normalize(x.float(), dim=-1) @ self.all_embeddings().T * self.temperature
        if self.training and bool(self.novel.any()):
            logits = logits.masked_fill(
                torch.cat([self.novel, self.novel.new_zeros(1)])[None], float('-inf'))
        return logits

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, classes={self.num_classes}, '
                f'background={self.background!r}')
