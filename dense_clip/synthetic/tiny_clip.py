"""The embedded tiny CLIP: a real ``open_clip.CLIP`` trained on the synthetic world.

Architecture is data (an open_clip model config dict, stored in the JSON next to the weights
and in the weights file's safetensors metadata), so every backbone code path is open_clip's
own. The tokenizer is open_clip's standard BPE tokenizer
(``open_clip.get_tokenizer('ViT-B-16')``), so the text tower keeps the full 49,408-row token
embedding table.

Keeping the file small: the training script zeroes every row of the token embedding table
except the rows of tokens that the world's vocabulary uses (plus start/end of text), and those
rows get no gradient, so they stay exactly zero (AdamW with a zero gradient makes a zero update).
The checkpoint stores only the nonzero rows (``text.token_rows``) and their token ids
(``text.token_ids``); the loader (``dense_clip.models.clip.embedded``, which serves the shipped
model by name) rebuilds the full table with zeros elsewhere, so the loaded model reproduces the
trained model's outputs bit for bit. A word outside the world's
vocabulary maps to a zero embedding (plus its positional embedding).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import open_clip
import torch
from safetensors.torch import save_file

from dense_clip.models.clip.architecture import architecture_metadata
from dense_clip.models.clip.constants import CLIP_MEAN_01, CLIP_STD_01
from dense_clip.models.clip.embedded import (
    TOKEN_TABLE_KEY,
    TOKENIZER_NAME,
    embedded_checkpoint,
    load_sparse_clip,
    sha256_file,
)

CHECKPOINT = embedded_checkpoint('dense_clip:tiny-clip-synth')
DATA_DIR = CHECKPOINT.parent

# open_clip model config (kwargs of open_clip.CLIP). The shipped checkpoint's own config is in
# its JSON; this is the default the training script starts from.
TINY_CLIP_CFG: dict[str, Any] = {
    'embed_dim': 128,
    'vision_cfg': {
        'image_size': 64,
        'patch_size': 8,
        'width': 128,
        'layers': 2,
        'head_width': 32,
        'mlp_ratio': 4.0,
        'pool_type': 'avg',
    },
    'text_cfg': {
        'context_length': 32,
        'vocab_size': 49408,
        'width': 128,
        'heads': 4,
        'layers': 4,
    },
}


def build_tiny_clip(cfg: dict[str, Any] | None = None) -> open_clip.CLIP:
    """Builds a randomly initialised ``open_clip.CLIP`` from a model config dict (CPU, fp32)."""
    return open_clip.CLIP(**copy.deepcopy(cfg or TINY_CLIP_CFG))


def get_tokenizer(cfg: dict[str, Any] | None = None) -> Any:
    """open_clip's standard ViT-B-16 tokenizer at the model's context length."""
    ctx = (cfg or TINY_CLIP_CFG)['text_cfg']['context_length']
    return open_clip.get_tokenizer(TOKENIZER_NAME, context_length=ctx)


def vocabulary_token_ids(texts: list[str], tokenizer: Any) -> torch.Tensor:
    """Sorted unique token ids (int64) used by ``texts``, start/end of text included."""
    tokens = tokenizer(texts)
    return torch.unique(tokens[tokens > 0])


def restrict_token_table(model: open_clip.CLIP, keep_ids: torch.Tensor) -> None:
    """Zeroes every token embedding row not in ``keep_ids`` (in place)."""
    table = model.token_embedding.weight
    keep = torch.zeros(table.shape[0], dtype=torch.bool)
    keep[keep_ids] = True
    with torch.no_grad():
        table[~keep] = 0.0


def save_tiny_clip(
    model: open_clip.CLIP, cfg: dict[str, Any], path: str | Path, meta: dict[str, Any]
) -> dict[str, Any]:
    """Saves weights (sparse token table) as safetensors and a JSON beside it.

    Args:
        model: Trained model; token rows outside the kept vocabulary must be zero.
        cfg: Its open_clip model config.
        path: ``.safetensors`` path; the JSON goes to the same stem with ``.json``.
        meta: Extra JSON fields (command, seed, timings, metrics).

    Returns:
        The JSON record written.
    """
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    table = state.pop(TOKEN_TABLE_KEY)
    ids = torch.nonzero(table.abs().sum(1) > 0).flatten()
    state['text.token_ids'] = ids.to(torch.int64)
    state['text.token_rows'] = table[ids].contiguous()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=architecture_metadata(cfg))
    record = {
        'model_cfg': cfg,
        'tokenizer': {'name': TOKENIZER_NAME, 'context_length': cfg['text_cfg']['context_length']},
        'token_table': 'sparse: only rows text.token_ids are stored, all other rows are zero',
        'vocab_rows': int(ids.numel()),
        'file': path.name,
        'bytes': path.stat().st_size,
        'sha256': sha256_file(path),
        **meta,
    }
    path.with_suffix('.json').write_text(json.dumps(record, indent=2) + '\n')
    return record


def load_tiny_clip(
    path: str | Path | None = None, check_sha256: bool = True
) -> tuple[open_clip.CLIP, Any]:
    """Loads the embedded tiny CLIP (or another checkpoint saved by :func:`save_tiny_clip`).

    Images: (B, 3, 64, 64) float, normalised with ``model.visual.image_mean/std`` (OpenAI CLIP
    mean/std on 0-1 pixels). See :func:`dense_clip.models.clip.embedded.load_sparse_clip`.
    """
    return load_sparse_clip(path or CHECKPOINT, check_sha256)


MEAN, STD = CLIP_MEAN_01, CLIP_STD_01


def to_tensor(images: Any) -> torch.Tensor:
    """uint8 (B, H, W, 3) RGB array, 0-255 -> normalised float (B, 3, H, W)."""
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def text_classifier(
    model: open_clip.CLIP, tokenizer: Any, class_names: list[list[str]], templates: list[str]
) -> torch.Tensor:
    """Zero-shot text classifier, a pure function of its inputs.

    Args:
        class_names: Per class, its synonyms.
        templates: Format strings with one ``{}``.

    Returns:
        (C, S, D) float L2-normalised embeddings, template-averaged per synonym (S = max number
        of synonyms; classes with fewer repeat their first name).
    """
    n_syn = max(len(names) for names in class_names)
    out = []
    for names in class_names:
        names = list(names) + [names[0]] * (n_syn - len(names))
        per = []
        for name in names:
            emb = model.encode_text(tokenizer([t.format(name) for t in templates]), normalize=True)
            per.append(torch.nn.functional.normalize(emb.mean(0), dim=-1))
        out.append(torch.stack(per))
    return torch.stack(out)
