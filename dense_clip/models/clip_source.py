"""Where a CLIP comes from: architecture at construction, weights in ``init_weights``.

Modules that hold a CLIP (segmentors, detectors) build its architecture when they are built and
load pretrained weights only in ``init_weights`` (mmengine's convention, so building a config
never reads weight files or the network). Two sources are exceptions, documented here:
an OpenAI-layout checkpoint with no model name (its architecture is read from the file) and
the embedded CLIP ``dense_clip:tiny-clip-synth`` (package data, loaded at once).

``pretrained='zoo://NAME'`` names a model-zoo entry (``dense_clip.zoo``): building reads only the
zoo index (the entry's architecture and QuickGELU flag); the file is downloaded, checked and
converted in ``load_weights``. With ``model_name=None`` the entry's ``Open CLIP`` architecture is
built, or, for entries without one, the architecture is read from the file at build time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import open_clip
import torch
from mmengine.logging import print_log
from torch import nn

from dense_clip.models.clip.architecture import check_architecture
from dense_clip.models.clip.embedded import (
    EMBEDDED_MODELS,
    embedded_checkpoint,
    load_embedded,
)
from dense_clip.models.clip.loading import (
    ZOO_SCHEME,
    check_model_name,
    load_checked,
    load_clip,
    looks_like_file,
    read_clip_file,
    tag_needs_quick_gelu,
    zoo_clip_spec,
)

__all__ = ['EMBEDDED_MODELS', 'CLIPSource']


class CLIPSource:
    """Describes one CLIP: architecture, weights, precision.

    Args:
        model_name: open_clip architecture ('ViT-B-16', 'RN50', 'hf-hub:org/repo', ...), an
            embedded name (see ``EMBEDDED_MODELS``), or None with an OpenAI-layout checkpoint
            file as ``pretrained``.
        pretrained: open_clip tag ('openai', 'laion2b_s34b_b88k', ...), a checkpoint path
            (.pt/.pth/.bin TorchScript or state dict, .safetensors), a model-zoo name
            ``zoo://NAME``, or None for random weights. With an embedded model: None (its shipped
            weights) or a checkpoint file of the same architecture, loaded in ``load_weights``.
        model_cfg: an open_clip model config (kwargs of ``open_clip.CLIP``) for architectures
            open_clip does not name, e.g. tiny test models. Excludes ``model_name``.
        precision: 'fp32' (exact) or 'bf16' (weights cast to bfloat16).
        cache_dir: download cache for open_clip tags.
    """

    def __init__(self, model_name: str | None = None, pretrained: str | None = None,
                 model_cfg: dict | None = None, precision: str = 'fp32',
                 cache_dir: str | None = None) -> None:
        if model_cfg is not None and model_name is not None:
            raise ValueError('give either model_name or model_cfg, not both')
        if model_cfg is None and model_name is None and pretrained is None:
            raise ValueError('CLIPSource needs model_name, model_cfg or a checkpoint file')
        if model_name is not None and model_name.startswith('dense_clip:'):
            embedded_checkpoint(model_name)  # unknown names: a ValueError listing the known
        self.model_name = model_name
        self.pretrained = pretrained
        self.model_cfg = model_cfg
        self.precision = precision
        self.cache_dir = cache_dir
        self._loaded_at_build = False
        self._identity: tuple[tuple, str] | None = None

    def _cast(self, model: nn.Module) -> nn.Module:
        return model.to(torch.bfloat16) if self.precision == 'bf16' else model

    def build(self) -> tuple[nn.Module, Callable]:
        """Builds the architecture (random weights unless documented above) and tokenizer."""
        if self.model_name in EMBEDDED_MODELS:
            model, tokenizer = load_embedded(self.model_name)
            self._loaded_at_build = True
            return self._cast(model.eval()), tokenizer
        if self.model_cfg is not None:
            model = open_clip.CLIP(**self.model_cfg)
            context = self.model_cfg.get('text_cfg', {}).get('context_length', 77)
            tokenizer = open_clip.get_tokenizer('ViT-B-16', context_length=context)
            return self._cast(model.eval()), tokenizer
        if self._is_zoo():
            name, quick_gelu = zoo_clip_spec(self.model_name, self.pretrained)
            if name is not None:
                check_model_name(name)
                model = open_clip.create_model(name, pretrained=None, device='cpu',
                                               force_quick_gelu=quick_gelu,
                                               cache_dir=self.cache_dir)
                tokenizer = open_clip.get_tokenizer(name, cache_dir=self.cache_dir)
                return self._cast(model.eval()), tokenizer
        if self.model_name is None:  # architecture inferred from an OpenAI-layout file
            self._loaded_at_build = True
            return load_clip(None, self.pretrained, precision=self.precision)
        check_model_name(self.model_name)
        # Weights trained with QuickGELU (e.g. 'openai') need it in the architecture too.
        quick_gelu = (self.pretrained is not None and not looks_like_file(self.pretrained)
                      and tag_needs_quick_gelu(self.model_name, self.pretrained))
        model = open_clip.create_model(self.model_name, pretrained=None, device='cpu',
                                       force_quick_gelu=quick_gelu, cache_dir=self.cache_dir)
        tokenizer = open_clip.get_tokenizer(self.model_name, cache_dir=self.cache_dir)
        return self._cast(model.eval()), tokenizer

    def load_weights(self, model: nn.Module) -> None:
        """Loads the pretrained weights into ``model`` (built by :meth:`build`).

        An embedded model with a ``pretrained`` checkpoint file (e.g. the tiny CLIP fine-tuned
        by CLIPSelf) gets that file's weights, loaded strictly over the embedded ones.
        """
        if self.model_name in EMBEDDED_MODELS and self.pretrained is not None:
            target = model.float()
            load_checked(target, read_clip_file(self.pretrained).state_dict,
                         source=str(self.pretrained), model_name=self.model_name)
            self._cast(target)
            return
        if self._loaded_at_build:
            return
        if self.pretrained is None:
            print_log(f'CLIP {self.describe()} keeps random weights (pretrained=None)',
                      logger='current', level=logging.WARNING)
            return
        if self.model_cfg is not None:
            path = self.pretrained
            if self._is_zoo():
                from dense_clip.zoo import resolve

                path = resolve(self.pretrained)
            file = read_clip_file(path)
            target = model.float()
            check_architecture(target, file.stated_facts(), str(self.pretrained), 'model_cfg')
            load_checked(target, file.state_dict, source=str(self.pretrained))
            self._cast(target)
            return
        loaded, _ = load_clip(self.model_name, self.pretrained, cache_dir=self.cache_dir)
        dtype = next(model.parameters()).dtype
        model.load_state_dict(loaded.state_dict())
        model.to(dtype)

    def _is_zoo(self) -> bool:
        return isinstance(self.pretrained, str) and self.pretrained.startswith(ZOO_SCHEME)

    def describe(self) -> str:
        """Human-readable name, e.g. ``ViT-B-16/openai``."""
        arch = self.model_name or ('custom' if self.model_cfg is not None else 'openai-layout')
        return f'{arch}/{self.pretrained}'

    def identity(self, model: nn.Module) -> str:
        """Names ``model``'s text weights for caches: a digest of its text tower.

        The digest covers the text tower's tensors (bytes, dtypes, shapes) and structure
        (classes, head counts), so it changes whenever text embeddings could: other weights,
        random weights from another seed, a file replaced by one of the same size and date,
        another precision or activation. Computed once per state of the weights (~0.5 s for
        ViT-B/16's text tower on one core) and reused while no parameter changes.

        Args:
            model: the model :meth:`build` returned (after :meth:`load_weights`).
        """
        from dense_clip.models.text.cache import module_fingerprint

        state = tuple((name, t.data_ptr(), t._version)
                      for name, t in model.state_dict(keep_vars=True).items())
        if self._identity is None or self._identity[0] != state:
            self._identity = (state, f'text-weights:{module_fingerprint(model)}')
        return self._identity[1]
