"""Fixtures of the model-zoo tests: a local file server and an isolated zoo environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.zoo.fakes import FileServer


@pytest.fixture
def server() -> Iterator[FileServer]:
    files = FileServer()
    yield files
    files.close()


@pytest.fixture
def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import: undo an offline environment."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', False)


@pytest.fixture
def zoo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and index location; short timeouts; online, fast retries."""
    monkeypatch.setenv('DENSE_CLIP_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('HF_HUB_CACHE', str(tmp_path / 'hub'))
    monkeypatch.setenv('DENSE_CLIP_MODEL_INDEX', str(tmp_path / 'index' / 'model-index.yml'))
    monkeypatch.setenv('DENSE_CLIP_ZOO_TIMEOUT', '2')
    monkeypatch.setenv('DENSE_CLIP_ZOO_RETRIES', '2')
    monkeypatch.setenv('DENSE_CLIP_ZOO_BACKOFF', '0.01')
    for var in ('DENSE_CLIP_OFFLINE', 'HF_HUB_OFFLINE', 'HF_ENDPOINT'):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / 'index').mkdir()
    return tmp_path
