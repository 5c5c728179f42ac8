"""Helpers for the scripts in tools/: one-line errors for bad input."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from dense_clip.zoo.errors import ZooError

from .allocator import tune_cpu_allocator
from .checkpoint import CheckpointError, CheckpointWriteError

__all__ = ['run_cli']

# Errors that mean "the user's input is wrong" (or a download/cache/disk problem the message
# explains): shown as one line, not a traceback.
_USER_ERRORS = (FileNotFoundError, CheckpointError, CheckpointWriteError, KeyError, ValueError,
                ZooError)


def _is_user_error(err: BaseException) -> bool:
    # A TypeError is a user error only for a config key that a class does not take (mmengine
    # builds the class from the config's keys), found when the class is built.
    return isinstance(err, _USER_ERRORS) or (isinstance(err, TypeError)
                                             and 'unexpected keyword argument' in str(err))


def run_cli(main: Callable[[], object]) -> None:
    """Runs ``main``; input errors print ``error: ...`` on one line and exit with status 2.

    Input errors: a missing file, a bad value or setting, an unusable checkpoint, a zoo
    problem, a checkpoint that could not be written, a config key a class does not take.
    Set ``DENSE_CLIP_DEBUG=1`` to get the full traceback instead. Freed memory is kept in the
    process for reuse first (:func:`.allocator.tune_cpu_allocator`).
    """
    if os.environ.get('DENSE_CLIP_DEBUG') == '1':
        tune_cpu_allocator()
        main()
        return
    try:
        tune_cpu_allocator()
        main()
    except Exception as err:
        if not _is_user_error(err):
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        text = ' '.join(str(message).split())
        print(f'error: {type(err).__name__}: {text} (DENSE_CLIP_DEBUG=1 for a traceback)',
              file=sys.stderr)
        sys.exit(2)
