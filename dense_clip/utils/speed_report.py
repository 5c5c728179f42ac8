"""Machine description and Markdown tables of ``tools/benchmark_speed.py`` results.

A result file is the JSON the tool writes: ``title``, ``date``, ``machine`` (from
:func:`machine`), ``device``, ``threads``, ``commit``, ``command``, ``image_size``,
``load_before`` / ``load_after``, ``env`` (the environment settings that were set, e.g.
``DENSE_CLIP_PACKED_WEIGHTS``) and ``results`` (one dict per case and precision).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from pathlib import Path

__all__ = ['README_MARKERS', 'git_commit', 'machine', 'markdown', 'write_readme']

README_MARKERS = ('<!-- speed:benchmark -->', '<!-- /speed:benchmark -->')


def machine() -> dict:
    """CPU model and flags, logical CPUs, torch and Python versions, GPU name if any."""
    import torch

    cpu = platform.processor() or platform.machine()
    flags = ''
    if Path('/proc/cpuinfo').is_file():
        text = Path('/proc/cpuinfo').read_text()
        found = re.search(r'model name\s*:\s*(.+)', text)
        cpu = found.group(1).strip() if found else cpu
        flags = ' '.join(f for f in ('avx512f', 'avx512_bf16', 'amx_bf16') if f in text)
    info = dict(cpu=cpu, cpu_flags=flags, logical_cpus=os.cpu_count(),
                torch=torch.__version__, python=platform.python_version())
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def git_commit(root: Path) -> str:
    """The short commit of the checkout at ``root`` ('unknown' outside git)."""
    result = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root,
                            capture_output=True, text=True)
    return result.stdout.strip() or 'unknown'


def markdown(run: dict) -> str:
    """The result tables of one run, with the machine and the command."""
    info = run['machine']
    device = run['device'] if run['device'] == 'cpu' else f"{run['device']} ({info.get('gpu')})"
    lines = [f"Measured {run['date']} on {info['cpu']} ({info['logical_cpus']} logical CPUs, "
             f"{info['cpu_flags'] or 'no AVX-512'}), device {device}, torch {info['torch']}, "
             f"{run['threads']} threads, code {run['commit']}; load average "
             f"{run['load_before']:.1f} before, {run['load_after']:.1f} after"
             + ''.join(f'; {k}={v}' for k, v in run.get('env', {}).items())
             + f"; allocator: {_allocator(run)}.",
             f"Command: `{run['command']}`", '']
    text = [r for r in run['results'] if r['case'] == 'text']
    if text:
        reference = next((r['baseline_prompts_per_s'] for r in text if r['precision'] == 'fp32'),
                         None)
        lines += ['| text encoding | prompts | prompts/s | full-length path (prompts/s) | '
                  'vs full-length fp32 | matmul peak (GFLOP/s) | peak memory (MB) |',
                  '|---|---|---|---|---|---|---|']
        for r in text:
            gain = f"{r['prompts_per_s'] / reference:.1f}x" if reference else '-'
            lines.append(f"| {r['precision']} | {r['prompts']:,} ({r['templates']} templates) | "
                         f"{r['prompts_per_s']:.1f} | {r['baseline_prompts_per_s']:.1f} "
                         f"({r['baseline_prompts']} prompts) | {gain} | "
                         f"{r['matmul_peak_gflops']:.0f} | {r['peak_memory_mb']:,.0f} |")
        lines.append('')
    images = [r for r in run['results'] if r['case'] == 'image']
    if images:
        lines += ['| image | precision | classes (names) | seg_logits | images/s | GFLOP/image | '
                  'GFLOP/s | image tower GFLOP/s | matmul peak (GFLOP/s) | of peak: all, tower '
                  '| peak memory (MB) |', '|---|---|---|---|---|---|---|---|---|---|---|']
        size = 'x'.join(str(v) for v in run['image_size'])
        for r in images:
            flops, tower, peak = r.get('flops'), r.get('tower_flops'), r['matmul_peak_gflops']
            rate = flops / r['seconds'] / 1e9 if flops else None
            tower_rate = tower / r['tower_seconds'] / 1e9 if tower else None
            lines.append(
                f"| {size} | {r['precision']} | {r['classes']} ({r['names']}) | "
                f"{'x'.join(map(str, r['seg_logits']))} | {r['images_per_s']:.3g} | "
                + (f"{flops / 1e9:.3g} | {rate:.3g} | {tower_rate:.3g} | {peak:.0f} | "
                   f"{100 * rate / peak:.0f}%, {100 * tower_rate / peak:.0f}% | "
                   if flops else f'- | - | - | {peak:.0f} | - | ')
                + f"{r['peak_memory_mb']:,.0f} |")
        lines.append('')
    profiled = [r for r in images if 'profile' in r]
    if profiled:
        lines += ['Where one image\'s time goes (`--profile`: `torch.profiler`, one image, each '
                  'operation\'s own CPU time in ms; GFLOP/s and % of the matmul peak from the '
                  'recorded shapes; "outside": in no operation, i.e. Python and the profiler):',
                  '',
                  '| precision | part | matrix products | fused attention | other operations '
                  '| outside | total |', '|---|---|---|---|---|---|---|']
        for r in profiled:
            for part, values in _profile_rows(r['profile']):
                lines.append(f"| {r['precision']} | {part} | "
                             + ' | '.join(_profile_cell(values, key, r['matmul_peak_gflops'])
                                          for key in ('products', 'attention', 'other',
                                                      'outside', 'total')) + ' |')
        lines.append('')
    return '\n'.join(lines)


def _profile_rows(profile: dict) -> list[tuple[str, dict]]:
    """(part, {key: (seconds, flops)}) for the image tower, the rest and the whole image."""
    def values(entry: dict) -> dict:
        parts = {k: (v, entry['flops'].get(k, 0)) for k, v in entry['seconds'].items()}
        parts['total'] = (sum(entry['seconds'].values()), 0)
        return parts

    rows = [(name, values(profile[key])) for key, name in (('tower', 'image tower'),
                                                            ('rest', 'after the tower'))
            if key in profile]
    if len(rows) > 1:
        whole = {k: tuple(a + b for a, b in zip(rows[0][1][k], rows[1][1][k]))
                 for k in rows[0][1]}
        rows.append(('whole image', whole))
    return rows


def _profile_cell(values: dict, key: str, peak: float) -> str:
    seconds, flops = values[key]
    cell = f'{1e3 * seconds:.0f}'
    if flops > 0 and seconds > 0:
        rate = flops / seconds / 1e9
        cell += f' ({rate:.0f} GFLOP/s, {100 * rate / peak:.0f}%)'
    return cell


def _allocator(run: dict) -> str:
    """The allocator setting of a run's cases (``utils.allocator``; older runs: not recorded)."""
    found = {r['allocator'] for r in run['results'] if 'allocator' in r} or {'not recorded'}
    return ', '.join(sorted(v or "the C library's defaults" for v in found))


def write_readme(readme: Path, result_files: list[str]) -> None:
    """Puts the tables of ``result_files`` between :data:`README_MARKERS` in ``readme``."""
    runs = [json.loads(Path(f).read_text()) for f in result_files]
    body = '\n'.join(f"**{run['title']}**\n\n{markdown(run)}" for run in runs)
    text = readme.read_text()
    start, end = README_MARKERS
    if start not in text or end not in text:
        raise ValueError(f'{readme} has no {start} ... {end} block to fill')
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    note = '<!-- Generated by tools/benchmark_speed.py --write-readme; rerun it to update. -->'
    readme.write_text(f'{head}{start}\n{note}\n\n{body}\n{end}{tail}')
