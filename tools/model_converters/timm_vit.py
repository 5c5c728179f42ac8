"""Converts a DINO or DINOv2 release file into timm's ViT keys, saved as safetensors.

    python tools/model_converters/timm_vit.py dino_vitbase8_pretrain.pth dino_vitb8.safetensors \
        --timm-name vit_base_patch8_224.dino
    python tools/model_converters/timm_vit.py dinov2_vitb14_reg4_pretrain.pth out.safetensors \
        --timm-name vit_base_patch14_reg4_dinov2.lvd142m

Keys are mapped by timm's own ``checkpoint_filter_fn`` (DINOv2 registers and position embedding,
layer scale, mask token dropped) and must fit the named timm model exactly. This is the model
zoo's ``timm_vit`` converter (``dense_clip.zoo.converters``), used by ``zoo://dino_vitb8`` and
the other DINO / DINOv2 entries.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dense_clip.utils.cli import run_cli  # noqa: E402
from dense_clip.zoo.converters import save_safetensors, timm_vit  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='release file (.pth state dict)')
    parser.add_argument('dst', help='output .safetensors file')
    parser.add_argument('--timm-name', required=True,
                        help="timm model name with tag, e.g. 'vit_base_patch8_224.dino'")
    parser.add_argument('--arch', type=json.loads, default=None,
                        help='JSON overrides of the timm architecture (tests use tiny ones)')
    args = parser.parse_args(argv)
    state = timm_vit(Path(args.src), timm_name=args.timm_name, arch=args.arch)
    save_safetensors(state, Path(args.dst))
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    run_cli(main)
