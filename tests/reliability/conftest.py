"""Helpers for the bad-input tests: run a tool's ``main`` in-process, capture mmengine logs."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator

import pytest
from mmengine.logging import MMLogger

from dense_clip.utils.cli import run_cli


def cli_error(main: Callable[[], object], argv: list[str], capsys, monkeypatch) -> str:
    """Runs ``main`` as a tool does (``run_cli``) and returns its one ``error:`` line.

    Fails unless the tool exits with status 2, prints no traceback, and its last stderr line
    is the error.
    """
    monkeypatch.setattr(sys, 'argv', ['tool', *argv])
    monkeypatch.delenv('DENSE_CLIP_DEBUG', raising=False)
    with pytest.raises(SystemExit) as stop:
        run_cli(main)
    err = capsys.readouterr().err
    assert stop.value.code == 2, err[-2000:]
    assert 'Traceback' not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith('error: '), err[-2000:]
    return last


@pytest.fixture
def mm_log() -> Iterator[list[logging.LogRecord]]:
    """Records of mmengine's current logger (``print_log(..., logger='current')``)."""
    logger = MMLogger.get_current_instance()
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def warnings_of(records: list[logging.LogRecord]) -> str:
    """The WARNING messages among ``records``, one per line."""
    return '\n'.join(r.getMessage() for r in records if r.levelno == logging.WARNING)
