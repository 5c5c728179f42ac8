"""Weights-only checkpoint loading: mmengine checkpoints load, arbitrary pickles are refused."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from dense_clip.utils.checkpoint import (
    CheckpointError,
    check_state_dict_matches,
    install_mmengine_checkpoint_loader,
    safe_torch_load,
)


class Payload:
    """Stands for an arbitrary object inside a pickle: loading it would run foreign code."""

    def __reduce__(self):
        return (print, ('payload executed',))


def test_loads_mmengine_style_training_checkpoint(tmp_path):
    buffer = HistoryBuffer()
    buffer.update(np.float64(0.5))
    checkpoint = {
        'meta': {'iter': 4, 'seed': 0, 'dataset_meta': {'classes': ('a', 'b')}},
        'state_dict': {'w': torch.ones(2)},
        'message_hub': {'log_scalars': {'train/loss': buffer},
                        'runtime_info': {'iter': 4, 'arr': np.arange(3)}},
    }
    path = tmp_path / 'iter_4.pth'
    torch.save(checkpoint, path)
    loaded = safe_torch_load(path)
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5


def test_refuses_arbitrary_objects_and_names_the_file(tmp_path, capsys):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Payload()}, path)
    with pytest.raises(CheckpointError, match='evil.pth'):
        safe_torch_load(path)
    assert 'payload executed' not in capsys.readouterr().out


def test_corrupt_and_missing_files(tmp_path):
    path = tmp_path / 'truncated.pth'
    torch.save({'w': torch.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(CheckpointError, match='truncated.pth'):
        safe_torch_load(path)
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        safe_torch_load(tmp_path / 'absent.pth')


def test_mmengine_local_scheme_uses_weights_only_loader(tmp_path):
    install_mmengine_checkpoint_loader()
    path = tmp_path / 'evil.pth'
    torch.save({'x': Payload()}, path)
    with pytest.raises(CheckpointError):
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


@pytest.fixture
def http_root(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


def test_http_checkpoints_load_weights_only(http_root, tmp_path_factory, monkeypatch):
    root, url = http_root
    monkeypatch.setenv('TORCH_HOME', str(tmp_path_factory.mktemp('torch_home')))
    install_mmengine_checkpoint_loader()
    torch.save({'state_dict': {'w': torch.arange(3.0)}}, root / 'good.pth')
    digest = hashlib.sha256((root / 'good.pth').read_bytes()).hexdigest()
    (root / f'good-{digest[:8]}.pth').write_bytes((root / 'good.pth').read_bytes())
    (root / 'bad-00000000.pth').write_bytes((root / 'good.pth').read_bytes())
    torch.save({'x': Payload()}, root / 'evil.pth')
    for name in ('good.pth', f'good-{digest[:8]}.pth'):
        loaded = CheckpointLoader.load_checkpoint(f'{url}/{name}', map_location='cpu')
        assert torch.equal(loaded['state_dict']['w'], torch.arange(3.0))
    with pytest.raises(CheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(f'{url}/evil.pth', map_location='cpu')
    with pytest.raises(RuntimeError, match='(?i)hash'):  # sha256 prefix in the name mismatches
        CheckpointLoader.load_checkpoint(f'{url}/bad-00000000.pth', map_location='cpu')
    cached = list(Path(os.environ['TORCH_HOME']).rglob('bad-*'))
    assert not cached  # nothing half-checked stays in the cache


def test_state_dict_mismatch_message_names_source_and_keys():
    model = torch.nn.Linear(3, 2)
    check_state_dict_matches(model, model.state_dict(), 'same.pth')
    with pytest.raises(CheckpointError, match=r'other.pth.*1 missing.*bias.*shape mismatch'):
        check_state_dict_matches(model, {'weight': torch.zeros(4, 3)}, 'other.pth')


class ReachesNumpyMethod:
    """A pickle that asks for ``getattr(numpy.ndarray, 'tofile')``: must be refused."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


def test_attribute_lookups_are_limited_to_history_buffer_methods(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'x': ReachesNumpyMethod()}, path)
    with pytest.raises(CheckpointError, match='sneaky.pth'):
        safe_torch_load(path)
