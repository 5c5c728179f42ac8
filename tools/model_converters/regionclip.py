"""Converts a RegionCLIP checkpoint (detectron2 layout) to an OpenAI-layout CLIP state dict.

RegionCLIP (microsoft/RegionCLIP) releases ``regionclip_pretrained-cc_{rn50,rn50x4}.pth`` in its
detectron2 pretraining model's layout (``backbone.*``, ``lang_encoder.*``, ``teacher_backbone.*``,
``offline_*``); see ``dense_clip/models/region/regionclip_checkpoint.py`` for the mapping.

    python tools/model_converters/regionclip.py regionclip_pretrained-cc_rn50.pth \
        checkpoints/regionclip_pretrained-cc_rn50_openai.pt
    # a checkpoint without the text encoder: take it from OpenAI's CLIP of the same size
    python tools/model_converters/regionclip.py finetuned.pth out.pt --text-from RN50.pt

The output (``.pt`` with torch.save, or ``.safetensors``) loads with
``clip=dict(model_name=None, pretrained=<out>)``; the tool builds it once to check that every
tensor fits the inferred architecture. Unknown keys are a one-line error naming them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dense_clip.models.clip import build_openai_model, read_state_dict  # noqa: E402
from dense_clip.models.region.regionclip_checkpoint import (  # noqa: E402
    convert_regionclip,
    read_regionclip_checkpoint,
)


def convert(src: str | Path, dst: str | Path, text_from: str | Path | None = None,
            head_counts: dict[str, int] | None = None) -> str:
    """Reads ``src`` (weights only), writes ``dst``, checks it builds; returns the report."""
    state = read_regionclip_checkpoint(src)
    text = read_state_dict(text_from) if text_from is not None else None
    converted, report = convert_regionclip(state, text, head_counts)
    build_openai_model(dict(converted), source=str(src))  # every tensor fits the architecture
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous().clone() for k, v in converted.items()}
    if dst.suffix == '.safetensors':
        from safetensors.torch import save_file

        save_file(tensors, str(dst))
    else:
        torch.save(tensors, dst)
    return report.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help="the authors' checkpoint (.pth)")
    parser.add_argument('dst', help='output file (.pt / .pth / .safetensors)')
    parser.add_argument('--text-from', help='OpenAI CLIP checkpoint whose text tower to use when '
                        'the source has none')
    parser.add_argument('--vision-heads', type=int, help='head-count hint for towers whose '
                        'width is not 64 x heads (not needed for RN50 / RN50x4)')
    parser.add_argument('--text-heads', type=int, help='the same for the text tower')
    args = parser.parse_args()
    heads = {k: v for k, v in (('vision_heads', args.vision_heads),
                               ('text_heads', args.text_heads)) if v is not None}
    summary = convert(args.src, args.dst, args.text_from, heads)
    print(f'{args.src} -> {args.dst}: {summary}')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
