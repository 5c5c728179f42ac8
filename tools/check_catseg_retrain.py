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
    return recorded_command(record, 'tools/train_catseg_synthetic.py',
                            {'--out': out, '--work-dir': work_dir}, REPO)


def compare(old: dict, new: dict, miou_tol: float) -> tuple[bool, list[str]]:
    """Compares two weight records; returns (within tolerance, report lines)."""
    return compare_records(old, new, 'metrics', dict.fromkeys(COMPARED, miou_tol))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    weights = Path(args.weights)
    old = read_record(weights)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        out = root / weights.name
        new = rerun_record(retrain_command(old, out, root / 'work_dir'), out, REPO)
    report(*compare(old, new, args.miou_tol))

if __name__ == '__main__':
    run_cli(main)
