"""tools/benchmark_masks.py runs end to end (a small image; timings are not checked)."""

from __future__ import annotations

import sys

from tests.conftest import load_tool


def test_benchmark_prints_a_row_per_mask_count(monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', ['tools/benchmark_masks.py', '--size', '64', '48',
                                      '--repeats', '1', '--no-sam', '--classes', '5'])
    load_tool('benchmark_masks.py').main()
    out = capsys.readouterr().out
    assert 'image 64x48' in out
    for count in (10, 100, 1000):
        assert f'\n| {count} |' in out
