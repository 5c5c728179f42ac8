"""An on-disk cache of text classifiers, so a vocabulary is embedded once per model.

Embedding ADE-847 with 80 templates is ~100k prompts through the text tower; every evaluation
and demo would redo it. Entries are safetensors files named by the sha256 of everything the
embeddings depend on: the model's identity, a digest of its text tower (weights and structure,
:func:`module_fingerprint`; never a file's name, size or date, which can stay the same while
the weights change), the tokenizer, the synonyms, the templates, the precision and whether
templates were averaged. Writes are atomic (a
temporary file in the same folder, then ``os.replace``), and each file carries the sha256 of
its tensor bytes, so a torn or corrupt file is detected on load, logged, and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from .classifier import Tokenizer, build_text_classifier, model_device
from .templates import get_templates
from .vocabulary import Vocabulary, build_vocabulary

__all__ = ['TextEmbeddingCache', 'default_cache_dir', 'embed_vocabulary', 'file_identity',
           'module_fingerprint']

logger = logging.getLogger(__name__)

CACHE_FORMAT = '1'
TENSOR_NAME = 'embeddings'


def default_cache_dir() -> Path:
    """``$DENSE_CLIP_CACHE/text_embeddings``, by default ``~/.cache/dense_clip/text_embeddings``."""
    root = os.environ.get('DENSE_CLIP_CACHE') or Path.home() / '.cache' / 'dense_clip'
    return Path(root).expanduser() / 'text_embeddings'


def file_identity(path: str | os.PathLike) -> str:
    """Identifies a checkpoint file cheaply: resolved path, size in bytes, mtime (ns)."""
    stat = Path(path).stat()
    return f'file:{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}'


def _tensor_bytes(tensor: torch.Tensor) -> np.ndarray:
    """The tensor's bytes as a uint8 array (a view where possible: hashed without a copy)."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy()


def module_fingerprint(module: torch.nn.Module, skip: Sequence[str] = ('visual',)) -> str:
    """Hashes a module's weights and structure into a sha256 hex string.

    Covers every state-dict entry (name, dtype, shape, bytes) and each submodule's class and
    attention head count, so two models with equal weights but another activation (GELU vs
    QuickGELU) or head split differ. ViT-B/16's text tower (63M parameters) takes ~0.5 s on
    one CPU core, next to minutes to encode a vocabulary with 80 templates.

    Args:
        module: The model, e.g. an ``open_clip.CLIP``.
        skip: State-dict entries and submodules with any of these dotted-name components are
            left out. The default leaves out the image tower (``visual.*``), which text
            embeddings do not depend on, so fine-tuning it keeps the cache valid.
    """
    digest = hashlib.sha256()
    skipped = set(skip)
    for name, tensor in sorted(module.state_dict().items()):
        if set(name.split('.')) & skipped:
            continue
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}|'.encode())
        digest.update(_tensor_bytes(tensor))
    for name, child in module.named_modules():
        if not set(name.split('.')) & skipped:
            digest.update(f'{name}:{type(child).__name__}:{getattr(child, "num_heads", "")}|'
                          .encode())
    return digest.hexdigest()


def _precision(model: Any) -> str:
    parameters = getattr(model, 'parameters', None)
    if callable(parameters):
        for parameter in parameters():
            if parameter.is_floating_point():
                return str(parameter.dtype)
    return 'unknown'


class TextEmbeddingCache:
    """Caches :func:`build_text_classifier` results on disk.

    Nothing touches the disk until the first :meth:`get_or_build` or :meth:`save`.

    Args:
        cache_dir: Folder of the cache files; default :func:`default_cache_dir`.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None) -> None:
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()

    @staticmethod
    def key(*, model_id: str, weights_id: str, tokenizer_id: str,
            vocabulary: Vocabulary | Sequence[str | Sequence[str]],
            templates: str | Sequence[str], precision: str,
            average_templates: bool = True) -> str:
        """The sha256 hex digest naming one cache entry."""
        fields = {
            'format': CACHE_FORMAT,
            'model': model_id,
            'weights': weights_id,
            'tokenizer': tokenizer_id,
            'synonyms': list(build_vocabulary(vocabulary).synonyms),
            'templates': list(get_templates(templates)),
            'precision': precision,
            'average_templates': average_templates,
        }
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.cache_dir / f'{key}.safetensors'

    def load(self, key: str, num_rows: int | None = None) -> torch.Tensor | None:
        """Reads an entry on the CPU; None if it is missing or corrupt (a corrupt file is removed).

        Args:
            key: From :meth:`key`.
            num_rows: If given, the expected first dimension (the number of synonyms).
        """
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework='pt') as file:
                metadata = dict(file.metadata() or {})
                embeddings = file.get_tensor(TENSOR_NAME)
            if metadata.get('key') != key:
                raise ValueError(f'written for key {metadata.get("key")!r}')
            if metadata.get('sha256') != hashlib.sha256(_tensor_bytes(embeddings)).hexdigest():
                raise ValueError('tensor checksum mismatch')
            if num_rows is not None and embeddings.shape[0] != num_rows:
                raise ValueError(f'{embeddings.shape[0]} rows, expected {num_rows}')
        except Exception as error:  # any unreadable file is a cache miss, never a crash
            logger.warning('text embedding cache file %s is corrupt (%s: %s); recomputing',
                           path, type(error).__name__, error)
            try:
                path.unlink(missing_ok=True)
            except OSError:  # a read-only cache: the rebuilt entry is simply not stored
                pass
            return None
        return embeddings

    def save(self, key: str, embeddings: torch.Tensor,
             metadata: dict[str, str] | None = None) -> Path:
        """Writes an entry atomically: a temporary file in the cache folder, then os.replace."""
        embeddings = embeddings.detach().cpu().contiguous()
        info = dict(metadata or {})
        info.update(key=key, format=CACHE_FORMAT,
                    sha256=hashlib.sha256(_tensor_bytes(embeddings)).hexdigest())
        payload = safetensors_save({TENSOR_NAME: embeddings}, metadata=info)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        handle, tmp_name = tempfile.mkstemp(dir=self.cache_dir, prefix=f'.{key[:16]}.',
                                            suffix='.tmp')
        try:
            os.fchmod(handle, 0o644)  # mkstemp makes it private; cache entries are not secret
            with os.fdopen(handle, 'wb') as file:
                file.write(payload)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return path

    def get_or_build(self, model: Any, tokenizer: Tokenizer,
                     vocabulary: Vocabulary | Sequence[str | Sequence[str]],
                     templates: str | Sequence[str], *, model_id: str | None = None,
                     weights_id: str | None = None, batch_size: int = 256,
                     average_templates: bool = True) -> torch.Tensor:
        """Returns :func:`build_text_classifier`'s output, from the cache when possible.

        Args:
            model, tokenizer, vocabulary, templates, batch_size, average_templates: As for
                :func:`build_text_classifier`.
            model_id: Names the architecture, e.g. ``'ViT-B-16'``; default: the model's class
                (enough with the default ``weights_id``, which also covers the shapes).
            weights_id: Names the weights; default: :func:`module_fingerprint` of the model
                (hashes the text side of the weights in memory, which is always right). A
                given id must change whenever the text weights do: a tag such as
                ``'openai'`` does, :func:`file_identity` (path, size, mtime) does not always.

        Returns:
            float32 embeddings on the model's device, as :func:`build_text_classifier`.
        """
        vocabulary = build_vocabulary(vocabulary)
        templates = get_templates(templates)
        if model_id is None:
            model_id = f'{type(model).__module__}.{type(model).__qualname__}'
        if weights_id is None:
            weights_id = f'state:{module_fingerprint(model)}'
        context_length = (getattr(model, 'context_length', None)
                          or getattr(tokenizer, 'context_length', None))
        tokenizer_id = (f'{type(tokenizer).__module__}.{type(tokenizer).__qualname__}:'
                        f'{context_length}')
        key = self.key(model_id=model_id, weights_id=weights_id, tokenizer_id=tokenizer_id,
                       vocabulary=vocabulary, templates=templates, precision=_precision(model),
                       average_templates=average_templates)
        device = model_device(model)
        cached = self.load(key, num_rows=vocabulary.num_synonyms)
        if cached is not None:
            logger.debug('text embeddings loaded from %s', self.path(key))
            return cached.to(device)
        embeddings = build_text_classifier(model, tokenizer, vocabulary, templates,
                                           batch_size=batch_size,
                                           average_templates=average_templates)
        try:
            self.save(key, embeddings, metadata={'model_id': model_id, 'weights_id': weights_id,
                                                 'num_templates': str(len(templates))})
        except OSError as error:  # a read-only or full disk must not stop inference
            logger.warning('could not write the text embedding cache in %s: %s',
                           self.cache_dir, error)
        return embeddings


def embed_vocabulary(model: Any, tokenizer: Tokenizer, vocabulary: Vocabulary,
                     templates: str | Sequence[str], cache: TextEmbeddingCache | None,
                     source: Any = None) -> torch.Tensor:
    """A vocabulary's float32 name embeddings, through ``cache`` when there is one.

    Args:
        model, tokenizer, vocabulary, templates: as for :func:`build_text_classifier`.
        cache: the embedding cache, or None to compute them.
        source: the model's ``CLIPSource``: its ``describe()`` and ``identity(model)`` name the
            cache entry (None: the cache's defaults).
    """
    if cache is None:
        embeddings = build_text_classifier(model, tokenizer, vocabulary, templates)
    else:
        ids = {} if source is None else dict(model_id=source.describe(),
                                             weights_id=source.identity(model))
        embeddings = cache.get_or_build(model, tokenizer, vocabulary, templates, **ids)
    return embeddings.float()
