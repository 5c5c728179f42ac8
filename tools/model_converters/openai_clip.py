"""Converts an OpenAI CLIP release file (TorchScript archive) into a safetensors state dict.

    python tools/model_converters/openai_clip.py ViT-B-16.pt clip_vit-b16_openai.safetensors

The output keeps OpenAI's key layout and stores the architecture the archive's modules state
(heads, QuickGELU) in its metadata, so ``load_clip(None, OUT)`` builds exactly that model and
``load_clip('ViT-B-16-quickgelu', OUT)`` loads it into the named model (a named model with
another activation is refused). This is the model zoo's
``openai_clip`` converter (``dense_clip.zoo.converters``); ``zoo://clip_vit-b16_openai`` runs it
once after the download.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dense_clip.utils.cli import run_cli  # noqa: E402
from dense_clip.zoo.converters import openai_clip, save_safetensors  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help="OpenAI's .pt file (TorchScript archive or state dict)")
    parser.add_argument('dst', help='output .safetensors file')
    args = parser.parse_args(argv)
    state = openai_clip(Path(args.src))
    save_safetensors(state, Path(args.dst))
    tensors = sum(1 for key in state if key != '__metadata__')
    print(f'wrote {tensors} tensors to {args.dst}')


if __name__ == '__main__':
    run_cli(main)
