"""Class-name embeddings for the detectors: vocabulary, prompt style, lazy and cached.

Detectors classify against the same text classifier segmentation uses
(:func:`dense_clip.models.text.build_text_classifier`: per-prompt L2-normalised embeddings
averaged over templates, one row per synonym). Two prompt styles:

* ``'clip'``: the templates as given (a template set name or a list), the name put in ``{}``.
* ``'vild'``: ViLD's 63 detection templates with an article placeholder and the "This is"
  prefix, as F-ViT's embedding dump does (wusize/CLIPSelf ``F-ViT/tools/clip_utils.py``,
  ``build_text_embedding_openclip``): ``{article}`` becomes "an" before a vowel, else "a", and a
  prompt starting with "a" or "the" gets "This is " in front. Implemented as two calls of
  ``build_text_classifier`` (names taking "a", names taking "an").

Known departure (see ``configs/_base_/protocols.md``): RegionCLIP's concept embeddings average
UNnormalised prompt embeddings (``tools/extract_concept_features.py``); we average normalised
ones, CLIP's recipe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from dense_clip.models.clip_source import EMBEDDED_MODELS, CLIPSource
from dense_clip.models.text import (
    TextEmbeddingCache,
    Vocabulary,
    build_text_classifier,
    build_vocabulary,
    get_templates,
)

from .class_split import load_class_split

Tokenizer = Callable[..., Tensor]

__all__ = ['DET_TEMPLATE_SETS', 'PROMPT_STYLES', 'REGIONCLIP_TEMPLATES', 'VILD_TEMPLATES',
           'DetectionText']

#: ViLD's templates (Gu et al., ICLR 2022) in the form of F-ViT's dump script.
VILD_TEMPLATES: tuple[str, ...] = tuple(
    t.replace('{a}', '{article}') for t in (
        'There is {a} {} in the scene.', 'There is the {} in the scene.',
        'a photo of {a} {} in the scene.', 'a photo of the {} in the scene.',
        'a photo of one {} in the scene.', 'itap of {a} {}.', 'itap of my {}.',
        'itap of the {}.', 'a photo of {a} {}.', 'a photo of my {}.', 'a photo of the {}.',
        'a photo of one {}.', 'a photo of many {}.', 'a good photo of {a} {}.',
        'a good photo of the {}.', 'a bad photo of {a} {}.', 'a bad photo of the {}.',
        'a photo of a nice {}.', 'a photo of the nice {}.', 'a photo of a cool {}.',
        'a photo of the cool {}.', 'a photo of a weird {}.', 'a photo of the weird {}.',
        'a photo of a small {}.', 'a photo of the small {}.', 'a photo of a large {}.',
        'a photo of the large {}.', 'a photo of a clean {}.', 'a photo of the clean {}.',
        'a photo of a dirty {}.', 'a photo of the dirty {}.', 'a bright photo of {a} {}.',
        'a bright photo of the {}.', 'a dark photo of {a} {}.', 'a dark photo of the {}.',
        'a photo of a hard to see {}.', 'a photo of the hard to see {}.',
        'a low resolution photo of {a} {}.', 'a low resolution photo of the {}.',
        'a cropped photo of {a} {}.', 'a cropped photo of the {}.',
        'a close-up photo of {a} {}.', 'a close-up photo of the {}.',
        'a jpeg corrupted photo of {a} {}.', 'a jpeg corrupted photo of the {}.',
        'a blurry photo of {a} {}.', 'a blurry photo of the {}.',
        'a pixelated photo of {a} {}.', 'a pixelated photo of the {}.',
        'a black and white photo of the {}.', 'a black and white photo of {a} {}.',
        'a plastic {}.', 'the plastic {}.', 'a toy {}.', 'the toy {}.', 'a plushie {}.',
        'the plushie {}.', 'a cartoon {}.', 'the cartoon {}.', 'an embroidered {}.',
        'the embroidered {}.', 'a painting of the {}.', 'a painting of a {}.'))

#: RegionCLIP's concept-embedding templates (microsoft/RegionCLIP,
#: ``detectron2/data/datasets/clip_prompt_utils.py`` ``get_prompt_templates``): OpenAI's 80
#: ImageNet templates plus ``'{}.'``; averaging does not depend on their order.
REGIONCLIP_TEMPLATES: tuple[str, ...] = ('{}.', *get_templates('openai_imagenet'))


def _vild_templates(article: str) -> list[str]:
    filled = [t.replace('{article}', article) for t in VILD_TEMPLATES]
    return ['This is ' + t if t.startswith(('a', 'the')) else t for t in filled]


def _article(name: str) -> str:
    return 'an' if name[:1].lower() in 'aeiou' else 'a'


def _embed_clip(model, tokenizer, vocabulary: Vocabulary, templates) -> Tensor:
    return build_text_classifier(model, tokenizer, vocabulary, templates)


def _embed_vild(model, tokenizer, vocabulary: Vocabulary, templates) -> Tensor:
    synonyms = vocabulary.synonyms
    rows = torch.empty(0)
    for article in ('a', 'an'):
        picked = [i for i, s in enumerate(synonyms) if _article(s) == article]
        if not picked:
            continue
        part = build_text_classifier(model, tokenizer, [[synonyms[i]] for i in picked],
                                     _vild_templates(article))
        if rows.numel() == 0:
            rows = part.new_zeros(len(synonyms), part.shape[1])
        rows[picked] = part
    return rows


PROMPT_STYLES: dict[str, Callable] = {'clip': _embed_clip, 'vild': _embed_vild}
#: Detection template sets (style 'clip'), besides ``dense_clip.models.text.TEMPLATE_SETS``.
DET_TEMPLATE_SETS: dict[str, tuple[str, ...]] = {'regionclip': REGIONCLIP_TEMPLATES}


class DetectionText:
    """A detector's classes and their text embeddings (computed on first use, then kept).

    Args:
        vocabulary: anything ``build_vocabulary`` takes; ignored when ``class_split`` is given.
        class_split: a class split (name, path or dict); its classes become the vocabulary and
            its novel classes are reported by :meth:`novel_mask`.
        templates: template set name (``dense_clip.models.text.TEMPLATE_SETS`` or
            ``'regionclip'``) or list (style ``'clip'``; ignored by ``'vild'``).
        prompt_style: ``'clip'`` or ``'vild'``.
        cache_dir: on-disk embedding cache (None: the default folder, False: off).
    """

    def __init__(self, vocabulary: Any = None, class_split: Any = None,
                 templates: str | Sequence[str] = 'openai_imagenet', prompt_style: str = 'clip',
                 cache_dir: str | bool | None = None) -> None:
        if prompt_style not in PROMPT_STYLES:
            raise ValueError(f'prompt_style must be one of {sorted(PROMPT_STYLES)}, got '
                             f'{prompt_style!r}')
        self.split = None if class_split is None else load_class_split(class_split)
        if self.split is not None:
            self._vocabulary = self.split.vocabulary()
        elif vocabulary is not None:
            self._vocabulary = build_vocabulary(vocabulary)
        else:  # the tools fill it in from the dataset config; fail on use, not on build
            self._vocabulary = None
        self.prompt_style = prompt_style
        if prompt_style == 'vild':
            self.templates = VILD_TEMPLATES
        elif isinstance(templates, str) and templates in DET_TEMPLATE_SETS:
            self.templates = DET_TEMPLATE_SETS[templates]
        else:
            self.templates = get_templates(templates)
        self.cache = None if cache_dir is False else TextEmbeddingCache(cache_dir)
        self._embeddings: Tensor | None = None
        self._background: Tensor | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        """The classes; raises if neither a class split nor a vocabulary was given."""
        if self._vocabulary is None:
            raise ValueError('a detector needs classes: set model.text.class_split (or '
                             'vocabulary), or `class_split` / `classnames` in the dataset config')
        return self._vocabulary

    @property
    def num_classes(self) -> int:
        return self.vocabulary.num_classes

    def novel_mask(self) -> Tensor:
        """(C,) bool: True for novel classes (all False without a class split)."""
        if self.split is None:
            return torch.zeros(self.num_classes, dtype=torch.bool)
        return torch.tensor(self.split.is_novel(), dtype=torch.bool)

    def reset(self) -> None:
        """Forgets the embeddings (call after loading new CLIP weights)."""
        self._embeddings = None
        self._background = None

    def embeddings(self, model: nn.Module, tokenizer: Tokenizer,
                   source: CLIPSource | None = None) -> Tensor:
        """(S, D) float32 L2-normalised synonym embeddings, rows in ``vocabulary.synonyms``."""
        if self._embeddings is None:
            embed = PROMPT_STYLES[self.prompt_style]
            was_training = model.training
            model.eval()
            with torch.no_grad():
                # Random weights (pretrained=None) have no identity the cache could key on.
                named = source is not None and (source.pretrained is not None
                                                or source.model_name in EMBEDDED_MODELS)
                if self.cache is not None and named and self.prompt_style == 'clip':
                    emb = self.cache.get_or_build(model, tokenizer, self.vocabulary,
                                                  self.templates, model_id=source.describe(),
                                                  weights_id=source.identity(model))
                else:
                    emb = embed(model, tokenizer, self.vocabulary, self.templates)
            model.train(was_training)
            self._embeddings = emb.float()
        return self._embeddings

    def class_embeddings(self, model: nn.Module, tokenizer: Tokenizer,
                         source: CLIPSource | None = None) -> Tensor:
        """(C, D) one embedding per class: the normalised mean of its synonyms' embeddings
        (for classifiers that need one weight per class, e.g. F-ViT's head)."""
        from dense_clip.models.text import merge_synonyms

        return merge_synonyms(self.embeddings(model, tokenizer, source), self.vocabulary)

    def background_embedding(self, model: nn.Module, tokenizer: Tokenizer,
                             source: CLIPSource | None = None) -> Tensor:
        """(D,) normalised embedding of the class name "background" with the same prompts (the
        background row of F-ViT's classifier; the authors' embedding files hold it too)."""
        if self._background is None:
            embed = PROMPT_STYLES[self.prompt_style]
            was_training = model.training
            model.eval()
            with torch.no_grad():
                emb = embed(model, tokenizer, Vocabulary(['background']), self.templates)
            model.train(was_training)
            self._background = emb[0].float()
        return self._background
