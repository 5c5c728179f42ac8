"""Retrains the embedded CAT-Seg with its recorded command and compares with the shipped weights.

The weights' JSON records the exact ``tools/train_catseg_synthetic.py`` command and the metrics
measured on the exported file. This tool reruns the command (into a temporary folder, never over
the shipped file), then compares:

- the sha256 of the new file (identical means a bit-for-bit reproduction);
- otherwise the metrics: mIoU, seen mIoU and unseen mIoU each within ``--miou-tol`` points
  (default 2.0).

Exit status 0 when within tolerance, 1 when not, 2 on bad input. The full command takes as long
as the original training (see ``train_wall_time_s`` in the JSON).

    python tools/check_catseg_retrain.py [--weights PATH] [--keep DIR] [--miou-tol 2.0]
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

SHIPPED = REPO / 'dense_clip' / 'data' / 'catseg' / 'catseg_tiny_synth.safetensors'
COMPARED = ('mIoU', 'mIoU_seen', 'mIoU_unseen')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--weights', default=str(SHIPPED),
                   help='weights whose JSON records the command (default: the shipped ones)')
    p.add_argument('--miou-tol', type=float, default=2.0, help='tolerance in mIoU points')
    p.add_argument('--keep', help='directory to keep the retrained weights and work dir in')
    return p.parse_args(argv)


def retrain_command(record: dict, out: Path, work_dir: Path) -> list[str]:
    """The recorded command as an argv list, writing to ``out`` and ``work_dir``."""
    argv = shlex.split(record['command'])
    if argv[:2] != ['python', 'tools/train_catseg_synthetic.py']:
        raise ValueError('recorded command is not a tools/train_catseg_synthetic.py run: '
                         f"{record['command']!r}")
    args, rest = argv[2:], []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg in ('--out', '--work-dir'):
            skip = True
            continue
        if arg.startswith(('--out=', '--work-dir=')):
            continue
        rest.append(args[i])
    return [sys.executable, str(REPO / 'tools' / 'train_catseg_synthetic.py'), *rest,
            '--out', str(out), '--work-dir', str(work_dir)]


def compare(old: dict, new: dict, miou_tol: float) -> tuple[bool, list[str]]:
    """Compares two weight records; returns (within tolerance, report lines)."""
    return compare_records(old, new, 'metrics', dict.fromkeys(COMPARED, miou_tol))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    weights = Path(args.weights)
    meta = weights.with_suffix('.json')
    if not meta.is_file():
        raise FileNotFoundError(f'no weights record {meta} (the JSON beside {weights})')
    old = json.loads(meta.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        out = root / weights.name
        new = rerun_record(retrain_command(old, out, root / 'work_dir'), out, REPO)
    ok, lines = compare(old, new, args.miou_tol)
    print('\n'.join(lines))
    print('within tolerance' if ok else 'NOT within tolerance')
    if not ok:
        sys.exit(1)


if __name__ == '__main__':
    run_cli(main)
