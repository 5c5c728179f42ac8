"""Checking that a shipped, trained file is reproduced by its recorded training command.

The tools ``check_tiny_clip_retrain.py`` and ``check_catseg_retrain.py`` rerun the command stored
in the JSON record beside a shipped weights file and compare the new record with the old one:
identical sha256 means a bit-for-bit reproduction; otherwise each metric must agree within its
tolerance.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ['compare_records', 'read_record', 'recorded_command', 'report', 'rerun_record']


def read_record(weights: Path) -> dict:
    """The JSON record beside a weights file (same name, ``.json``).

    Raises:
        FileNotFoundError: there is none (the message names both files).
    """
    meta = Path(weights).with_suffix('.json')
    if not meta.is_file():
        raise FileNotFoundError(f'no weights record {meta} (the JSON beside {weights})')
    return json.loads(meta.read_text())


def recorded_command(record: Mapping, script: str, outputs: Mapping[str, object],
                     root: Path) -> list[str]:
    """The record's ``python SCRIPT ...`` command as an argv for this interpreter, with the
    output flags in ``outputs`` (flag -> value, e.g. ``{'--out': path}``) replacing the recorded
    ones.

    Raises:
        ValueError: the recorded command is not a run of ``script``.
    """
    argv = shlex.split(record['command'])
    if argv[:2] != ['python', script]:
        raise ValueError(f"recorded command is not a {script} run: {record['command']!r}")
    kept, skip = [], False
    for arg in argv[2:]:
        if skip:
            skip = False
        elif arg in outputs:
            skip = True  # its value follows
        elif not arg.startswith(tuple(f'{flag}=' for flag in outputs)):
            kept.append(arg)
    replaced = [item for flag, value in outputs.items() for item in (flag, str(value))]
    return [sys.executable, str(Path(root) / script), *kept, *replaced]


def report(ok: bool, lines: list[str]) -> None:
    """Prints the comparison and its verdict; exits with status 1 when out of tolerance."""
    print('\n'.join(lines))
    print('within tolerance' if ok else 'NOT within tolerance')
    if not ok:
        sys.exit(1)


def compare_records(old: Mapping, new: Mapping, section: str, tolerances: Mapping[str, float],
                    digits: int = 2) -> tuple[bool, list[str]]:
    """Compares two weight records.

    Args:
        old, new: records with ``sha256`` and the metrics under ``section``.
        section: the records' metrics key (e.g. ``'metrics'``, ``'probe'``).
        tolerances: metric name -> largest accepted absolute difference.
        digits: decimals shown in the report.

    Returns:
        (every metric within its tolerance, report lines).
    """
    if old['sha256'] == new['sha256']:
        lines = [f"sha256 identical ({new['sha256']}): bit-for-bit reproduction"]
    else:
        lines = [f"sha256 differs: {old['sha256']} vs {new['sha256']}"]
    ok = True
    for key, tol in tolerances.items():
        a, b = old[section][key], new[section][key]
        within = abs(a - b) <= tol
        ok &= within
        lines.append(f"{key}: shipped {a:.{digits}f}, retrained {b:.{digits}f}, |diff| "
                     f"{abs(a - b):.{digits}f} {'<=' if within else '>'} {tol}")
    return ok, lines


def rerun_record(cmd: list[str], out: Path, cwd: Path) -> dict:
    """Runs a training command that writes ``out`` and its JSON record; returns the record."""
    print('running:', shlex.join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)
    return json.loads(Path(out).with_suffix('.json').read_text())
