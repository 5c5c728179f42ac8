"""Fetches, checks and converts model-zoo weights ahead of time (dense_clip.zoo).

    python tools/download.py --list [--filter TEXT]        # every zoo name, cached or not
    python tools/download.py NAME|CONFIG [...] --dry-run   # each file, its size, its destination
    python tools/download.py NAME|CONFIG [...]             # download, check, convert
    DENSE_CLIP_OFFLINE=1 python tools/download.py CONFIG   # check what is there; no network

NAME is a zoo name (a weight file such as ``clip_vit-b16_openai``, or a config entry such as
``sclip_vit-b16_voc21``, which stands for the weights that config needs); CONFIG is a config file.
For a config whose keys still name upstream tags or paths, the tool prints the ``--cfg-options``
that make ``tools/test.py`` load the zoo files. Files go to ``$DENSE_CLIP_CACHE/zoo`` (default
``~/.cache/dense_clip/zoo``) or, for Hugging Face files, the hub cache.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dense_clip.utils.cli import run_cli  # noqa: E402
from dense_clip.zoo import ZooIndex, load_index, plan, resolve  # noqa: E402
from dense_clip.zoo.cache import format_size, is_offline  # noqa: E402
from dense_clip.zoo.refs import cfg_options_for, needed_weights, relative_config  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('targets', nargs='*', metavar='NAME|CONFIG',
                        help='zoo names or config files')
    parser.add_argument('--dry-run', action='store_true',
                        help='list the files, sizes and destinations; fetch nothing')
    parser.add_argument('--list', action='store_true', help='list every weight entry')
    parser.add_argument('--filter', default='', help='with --list: names containing TEXT')
    parser.add_argument('--offline', action='store_true',
                        help='never use the network (as DENSE_CLIP_OFFLINE=1)')
    args = parser.parse_args(argv)
    if not args.targets and not args.list:
        parser.error('give zoo names or config files, or --list')
    return args


def list_entries(index: ZooIndex, text: str) -> None:
    """Prints one line per weight entry: name, family, size, source, converter, cached."""
    rows = []
    for entry in index.weights.values():
        if text.lower() not in entry.name.lower():
            continue
        planned = plan(entry.name, index)
        source = 'hf' if entry.on_hub else 'manual' if entry.manual else 'http'
        cached = 'cached' if planned.cached else ''
        rows.append((entry.name, entry.collection, format_size(planned.size), source,
                     entry.converter or '', cached))
    widths = [max(len(r[i]) for r in rows) for i in range(5)] if rows else [0] * 5
    for row in rows:
        print('  '.join(cell.ljust(w) for cell, w in zip(row, widths)) + '  ' + row[5])
    configs = sum(1 for c in index.configs.values() if text.lower() in c.name.lower())
    print(f'{len(rows)} weight files, {configs} config entries '
          f'(python tools/download.py NAME|CONFIG --dry-run for details)')


def describe(target: str, index: ZooIndex, dry_run: bool, offline: bool) -> None:
    """Prints (and unless ``dry_run`` fetches) the files one target needs."""
    entries, config_entry, refs = needed_weights(target, index)
    title = relative_config(target, index) if refs else target
    print(f'{title}: {len(entries)} file{"s" * (len(entries) != 1)}')
    for entry in entries:
        planned = plan(entry.name, index)
        status = 'cached' if planned.cached else 'not cached'
        print(f'  {entry.name}  {entry.file_name}  {format_size(planned.size)}  '
              f'({planned.how}, {status})')
        print(f'      from {planned.url}')
        print(f'      to   {planned.destination}')
        if planned.converted is not None:
            print(f'      then {planned.converted}  (converted by {entry.converter!r})')
        if not dry_run:
            path = resolve(entry.name, offline=offline, index=index)
            print(f'      ok   {path}')
    options = cfg_options_for(refs, config_entry)
    if options:
        print(f'  use with: --cfg-options {" ".join(options)}')


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    index = load_index()
    if args.list:
        list_entries(index, args.filter)
    offline = args.offline or is_offline()
    for target in args.targets:
        describe(target, index, args.dry_run, offline)


if __name__ == '__main__':
    run_cli(main)
