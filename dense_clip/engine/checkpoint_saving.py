"""Checkpoints written whole or not at all, with a full disk named.

mmengine writes a checkpoint by opening ``iter_N.pth`` and writing its bytes: a full disk or a
kill during the write leaves a partial file, and ``--resume`` (which picks the newest
checkpoint) may then load it. The tools give the checkpoint hook a file backend, through
mmengine's own extension point (``register_backend`` and the hook's ``backend_args``), that
writes to a temporary file in the same folder, flushes it to disk and renames it into place:
a reader sees the previous file or the complete new one. A failed write removes the temporary
file and raises :class:`CheckpointWriteError`, which names the folder and the cause, and which
the tools print as one ``error:`` line. Nothing else in mmengine changes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mmengine.config import Config
from mmengine.fileio import LocalBackend, register_backend

from dense_clip.utils.checkpoint import CheckpointWriteError

__all__ = ['ATOMIC_BACKEND', 'AtomicLocalBackend', 'CheckpointWriteError',
           'setup_checkpoint_saving']

#: The backend name the tools put in ``default_hooks.checkpoint.backend_args``.
ATOMIC_BACKEND = 'dense_clip_atomic_local'


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose writes are atomic (temporary file, fsync, rename)."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        """Writes ``obj`` to ``filepath`` atomically.

        Raises:
            CheckpointWriteError: the write failed; the message names the folder, the file
                and the cause, and no partial file is left behind.
        """
        path = Path(filepath)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = None
        try:
            handle, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp',
                                           dir=path.parent)
            with os.fdopen(handle, 'wb') as file:
                file.write(obj)
                file.flush()
                os.fsync(file.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; checkpoints are not secret
            os.replace(tmp, path)
        except OSError as err:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            size = f'{len(obj) / 2**20:.1f} MiB'
            raise CheckpointWriteError(
                f'could not write checkpoint {path.name} ({size}) in folder '
                f'{path.parent}: {err.strerror or err}; nothing partial was left there, the '
                'earlier checkpoints are intact (free space, or point --work-dir elsewhere)'
            ) from err

    def put_text(self, obj: str, filepath: str | Path, encoding: str = 'utf-8') -> None:
        """Writes text atomically (see :meth:`put`)."""
        self.put(obj.encode(encoding), filepath)


def setup_checkpoint_saving(cfg: Config) -> Config:
    """Makes the config's checkpoint hook write local checkpoints atomically.

    Only a checkpoint hook without ``backend_args`` and with a local folder (its ``out_dir``
    or the work dir) is changed; remote folders keep their backends. Returns ``cfg``.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if not isinstance(hook, dict) or hook.get('backend_args') is not None \
            or hook.get('file_client_args') is not None:
        return cfg
    out_dir = hook.get('out_dir') or cfg.get('work_dir') or ''
    if '://' not in str(out_dir):
        hook['backend_args'] = dict(backend=ATOMIC_BACKEND)
    return cfg
