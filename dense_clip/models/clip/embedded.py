"""CLIPs shipped inside the package, loaded by name with no download.

``dense_clip:tiny-clip-synth`` is a real ``open_clip.CLIP`` trained by ``tools/train_tiny_clip.py``
on the synthetic world (``dense_clip.synthetic``). Its architecture is data (an open_clip model
config in the JSON record beside the weights) and its tokenizer is open_clip's standard BPE
tokenizer at the model's context length.

The weights file keeps only the nonzero rows of the text token-embedding table
(``text.token_rows``) and their token ids (``text.token_ids``): training keeps every other row at
exactly zero, so :func:`load_sparse_clip` rebuilds the full table and reproduces the trained
model bit for bit. The file's safetensors metadata also stores the model config
(``dense_clip.models.clip.architecture``), so ``load_clip(None, path)`` builds the right model
from the file alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import open_clip
import torch
from safetensors.torch import load_file

__all__ = ['EMBEDDED_MODELS', 'SPARSE_TOKEN_KEYS', 'TOKEN_TABLE_KEY', 'embedded_checkpoint',
           'expand_token_table', 'load_embedded', 'load_sparse_clip', 'sha256_file']

DATA_DIR = Path(__file__).resolve().parents[2] / 'data'
#: Embedded model name -> its weights file (JSON record beside it).
EMBEDDED_MODELS: dict[str, Path] = {
    'dense_clip:tiny-clip-synth': DATA_DIR / 'tiny_clip' / 'tiny_clip_synth.safetensors',
}
TOKEN_TABLE_KEY = 'token_embedding.weight'
#: The entries of a sparse token table: (token ids (N,) int64, their rows (N, width)).
SPARSE_TOKEN_KEYS = ('text.token_ids', 'text.token_rows')
TOKENIZER_NAME = 'ViT-B-16'


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def embedded_checkpoint(name: str) -> Path:
    """The weights file of an embedded model.

    Raises:
        ValueError: unknown name; the message lists the embedded ones.
    """
    if name not in EMBEDDED_MODELS:
        raise ValueError(f'unknown embedded model {name!r}; have {sorted(EMBEDDED_MODELS)}')
    return EMBEDDED_MODELS[name]


def expand_token_table(state: dict[str, torch.Tensor], vocab_size: int) -> dict[str, torch.Tensor]:
    """Replaces a sparse token table (:data:`SPARSE_TOKEN_KEYS`) by the full
    ``token_embedding.weight`` (vocab_size, width), zero outside the stored rows."""
    state = dict(state)
    ids, rows = state.pop(SPARSE_TOKEN_KEYS[0]), state.pop(SPARSE_TOKEN_KEYS[1])
    table = rows.new_zeros(vocab_size, rows.shape[1])
    table[ids] = rows
    state[TOKEN_TABLE_KEY] = table
    return state


def load_sparse_clip(path: str | Path, check_sha256: bool = True) -> tuple[open_clip.CLIP, Any]:
    """Loads a CLIP saved with a sparse token table and its JSON record.

    Args:
        path: ``.safetensors`` weights; the JSON record (``model_cfg``, ``sha256``) sits beside it
            with the same stem.
        check_sha256: verify the file against the sha256 in the record.

    Returns:
        ``(model, tokenizer)``: an eval-mode fp32 CPU ``open_clip.CLIP`` and open_clip's standard
        tokenizer at the model's context length.

    Raises:
        ValueError: the checksum does not match (the message names the file).
    """
    path = Path(path)
    record = json.loads(path.with_suffix('.json').read_text())
    if check_sha256 and sha256_file(path) != record['sha256']:
        raise ValueError(f'sha256 mismatch for {path}')
    cfg = record['model_cfg']
    model = open_clip.CLIP(**cfg)
    state = expand_token_table(load_file(str(path)), model.token_embedding.weight.shape[0])
    model.load_state_dict(state, strict=True)
    tokenizer = open_clip.get_tokenizer(TOKENIZER_NAME,
                                        context_length=cfg['text_cfg']['context_length'])
    return model.eval(), tokenizer


def load_embedded(name: str) -> tuple[open_clip.CLIP, Any]:
    """Loads an embedded CLIP by name (see :data:`EMBEDDED_MODELS`)."""
    return load_sparse_clip(embedded_checkpoint(name))
