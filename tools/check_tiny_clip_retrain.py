"""Retrains the embedded tiny CLIP with its recorded command and compares with the checkpoint.

The checkpoint's JSON records the exact ``tools/train_tiny_clip.py`` command and the probe
metrics measured at the end of that run. This tool reruns the command (into a temporary file,
never over the shipped checkpoint), then compares:

- the sha256 of the new file (identical means a bit-for-bit reproduction);
- otherwise the probe metrics, each within a tolerance: zero-shot accuracy within ``--zs-tol``
  (default 0.02) and the MaskCLIP / SCLIP dense mIoU (background by prompt) within
  ``--miou-tol`` (default 0.03), which is the run-to-run spread RECIPE.md reports for changes of
  seed.

Exit status 0 when the retrained model is within tolerance, 1 when it is not, 2 on bad input.
The full command takes as long as the original training (38 minutes on one CPU core).

    python tools/check_tiny_clip_retrain.py [--ckpt PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from dense_clip.utils.cli import run_cli  # noqa: E402
from dense_clip.utils.retrain import (  # noqa: E402
    compare_records,
    read_record,
    recorded_command,
    report,
    rerun_record,
)

SHIPPED = REPO / 'dense_clip/data/tiny_clip/tiny_clip_synth.safetensors'
COMPARED = ('zs_acc', 'maskclip/prompt', 'sclip/prompt')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--ckpt', default=str(SHIPPED),
                   help='checkpoint whose JSON records the command (default: the shipped one)')
    p.add_argument('--zs-tol', type=float, default=0.02, help='zero-shot accuracy tolerance')
    p.add_argument('--miou-tol', type=float, default=0.03, help='dense mIoU tolerance (0-1)')
    p.add_argument('--keep', help='directory to keep the retrained checkpoint in')
    return p.parse_args(argv)


def retrain_command(record: dict, out: Path) -> list[str]:
    """The recorded command as an argv list, writing to ``out`` instead of the shipped path."""
    return recorded_command(record, 'tools/train_tiny_clip.py', {'--out': out}, REPO)


def compare(old: dict, new: dict, zs_tol: float, miou_tol: float) -> tuple[bool, list[str]]:
    """Compares two checkpoint records; returns (within tolerance, report lines)."""
    tolerances = {key: zs_tol if key == 'zs_acc' else miou_tol for key in COMPARED}
    return compare_records(old, new, 'probe', tolerances, digits=4)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    ckpt = Path(args.ckpt)
    old = read_record(ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp) / ckpt.name
        out.parent.mkdir(parents=True, exist_ok=True)
        new = rerun_record(retrain_command(old, out), out, REPO)
    report(*compare(old, new, args.zs_tol, args.miou_tol))

if __name__ == '__main__':
    run_cli(main)
