"""Converts CLIP-DINOiser head checkpoints between the authors' layout and dense_clip's.

The authors release ``{'epoch', 'model_state_dict': {obj_proj.*, bkg_decoder.*}}``
(wysoczanska/clip_dinoiser ``train.py``); dense_clip's ``DINOiserHead`` holds the same tensors,
under ``head.corr_head.conv.*`` and ``head.bkg_head.conv.*`` in a segmentor. Both directions
are lossless.

    # authors' checkpoint -> dense_clip heads (.pth with 'state_dict', or .safetensors)
    python tools/model_converters/clip_dinoiser.py last.pt clip_dinoiser_heads.pth
    # dense_clip heads or a whole training checkpoint -> the authors' layout
    python tools/model_converters/clip_dinoiser.py work_dirs/x/iter_100.pth last.pt --to-authors

Use the converted file as ``model.head.checkpoint`` (the head also reads the authors'
layout directly).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dense_clip.models.dinoiser import heads_state_dict, to_authors  # noqa: E402
from dense_clip.utils.checkpoint import load_checkpoint_file  # noqa: E402
from dense_clip.utils.cli import run_cli  # noqa: E402
from dense_clip.utils.progress import Progress  # noqa: E402


def convert(src: str | Path, dst: str | Path, to_authors_layout: bool = False) -> dict:
    """Reads ``src`` (weights only), writes ``dst``; returns what was written.

    Reports its three steps (read, convert, write) through :class:`Progress`.
    """
    src, dst = Path(src), Path(dst)
    with Progress(3, f'converting {src.name}', unit='step') as progress:
        return _convert(src, dst, to_authors_layout, progress)


def _convert(src: Path, dst: Path, to_authors_layout: bool, progress: Progress) -> dict:
    checkpoint = load_checkpoint_file(src)  # weights only; unreadable files name themselves
    progress.update()
    heads = heads_state_dict(checkpoint)
    if to_authors_layout:
        epoch = checkpoint.get('epoch', 0)
        out = to_authors(heads, epoch=epoch if isinstance(epoch, int) else 0)
        progress.update()
        torch.save(out, dst)
        progress.update()
        return out
    heads = {f'head.{k}': v.detach().contiguous().clone() for k, v in heads.items()}
    progress.update()
    if dst.suffix == '.safetensors':
        from safetensors.torch import save_file

        save_file(heads, str(dst))
        progress.update()
        return heads
    out = {'state_dict': heads, 'meta': {'converted_from': src.name}}
    torch.save(out, dst)
    progress.update()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='input checkpoint')
    parser.add_argument('dst', help='output file (.pth / .pt / .safetensors)')
    parser.add_argument('--to-authors', action='store_true',
                        help="write the authors' layout instead of dense_clip's")
    args = parser.parse_args()
    out = convert(args.src, args.dst, args.to_authors)
    state = out.get('model_state_dict', out.get('state_dict', out))
    for key, value in state.items():
        print(f'{key}: {tuple(value.shape)}')
    print(f'wrote {args.dst}')


if __name__ == '__main__':
    run_cli(main)
