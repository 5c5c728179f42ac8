"""tune_cpu_allocator: glibc's thresholds raised once, the environment's opt-out, nothing
elsewhere, and the tools' entry point applying it."""

from __future__ import annotations

import pytest

from dense_clip.utils import allocator, cli


class _FakeGlibc:
    def __init__(self, accept: bool = True) -> None:
        self.calls, self.accept = [], accept

    def gnu_get_libc_version(self):
        return b'2.36'

    def mallopt(self, param, value):
        self.calls.append((param, value.value))
        return int(self.accept)


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(allocator, '_DONE', [])
    monkeypatch.delenv('DENSE_CLIP_MALLOC_TUNING', raising=False)
    fake = _FakeGlibc()
    monkeypatch.setattr(allocator, '_glibc', lambda: fake)
    return fake


def test_glibc_thresholds_are_raised_once(fresh):
    done = allocator.tune_cpu_allocator()
    assert done == 'glibc mallopt: M_MMAP_THRESHOLD=64 MB, M_TRIM_THRESHOLD=128 MB'
    assert fresh.calls == [(-3, 64 << 20), (-1, 128 << 20)]
    assert allocator.tune_cpu_allocator() == done and len(fresh.calls) == 2


def test_the_environment_turns_it_off_and_bad_values_are_errors(fresh, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_MALLOC_TUNING', '0')
    assert allocator.tune_cpu_allocator() is None and fresh.calls == []
    monkeypatch.setenv('DENSE_CLIP_MALLOC_TUNING', 'yes')
    with pytest.raises(ValueError, match='DENSE_CLIP_MALLOC_TUNING must be 0 or 1'):
        allocator.tune_cpu_allocator()


def test_nothing_is_set_without_glibc_or_when_it_refuses(monkeypatch):
    monkeypatch.setattr(allocator, '_DONE', [])
    monkeypatch.setattr(allocator, '_glibc', lambda: None)
    assert allocator.tune_cpu_allocator() is None
    refusing = _FakeGlibc(accept=False)
    monkeypatch.setattr(allocator, '_DONE', [])
    monkeypatch.setattr(allocator, '_glibc', lambda: refusing)
    assert allocator.tune_cpu_allocator() is None and len(refusing.calls) == 1


def test_this_machines_glibc_takes_the_setting():
    libc = allocator._glibc()
    if libc is None:  # another C library: the function must then do nothing
        assert allocator.tune_cpu_allocator() in (None, allocator._DONE[0])
    else:
        c_int = allocator.ctypes.c_int
        assert libc.mallopt(allocator._M_MMAP_THRESHOLD, c_int(allocator.MMAP_THRESHOLD_BYTES)) == 1
        assert libc.mallopt(allocator._M_TRIM_THRESHOLD, c_int(allocator.TRIM_THRESHOLD_BYTES)) == 1


def test_the_tools_entry_point_applies_it_first(fresh, monkeypatch, capsys):
    seen = []
    cli.run_cli(lambda: seen.append(list(fresh.calls)))
    assert seen == [[(-3, 64 << 20), (-1, 128 << 20)]]
    monkeypatch.setattr(allocator, '_DONE', [])
    monkeypatch.setenv('DENSE_CLIP_MALLOC_TUNING', '2')
    with pytest.raises(SystemExit) as exit_info:
        cli.run_cli(lambda: None)
    assert exit_info.value.code == 2
    assert 'DENSE_CLIP_MALLOC_TUNING must be 0 or 1' in capsys.readouterr().err
