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
import json
import shlex
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from dense_clip.utils.cli import run_cli  # noqa: E402
from dense_clip.utils.retrain import compare_records, rerun_record  # noqa: E402

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
    argv = shlex.split(record['command'])
    if argv[:2] != ['python', 'tools/train_tiny_clip.py']:
        raise ValueError('recorded command is not a tools/train_tiny_clip.py run: '
                         f"{record['command']!r}")
    args = argv[2:]
    if '--out' in args:
        i = args.index('--out')
        del args[i:i + 2]
    args = [a for a in args if not a.startswith('--out=')]
    return [sys.executable, str(REPO / 'tools/train_tiny_clip.py'), *args, '--out', str(out)]


def compare(old: dict, new: dict, zs_tol: float, miou_tol: float) -> tuple[bool, list[str]]:
    """Compares two checkpoint records; returns (within tolerance, report lines)."""
    tolerances = {key: zs_tol if key == 'zs_acc' else miou_tol for key in COMPARED}
    return compare_records(old, new, 'probe', tolerances, digits=4)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    ckpt = Path(args.ckpt)
    meta = ckpt.with_suffix('.json')
    if not meta.is_file():
        raise FileNotFoundError(f'no checkpoint record {meta} (the JSON beside {ckpt})')
    old = json.loads(meta.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp) / ckpt.name
        out.parent.mkdir(parents=True, exist_ok=True)
        new = rerun_record(retrain_command(old, out), out, REPO)
    ok, lines = compare(old, new, args.zs_tol, args.miou_tol)
    print('\n'.join(lines))
    print('within tolerance' if ok else 'NOT within tolerance')
    if not ok:
        sys.exit(1)


if __name__ == '__main__':
    run_cli(main)
