"""Helpers for the scripts in tools/: one-line errors for bad input."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from dense_clip.zoo.errors import ZooError

from .checkpoint import CheckpointError

__all__ = ['run_cli']

# Errors that mean "the user's input is wrong" (or a download/cache problem the message
# explains): shown as one line, not a traceback.
_USER_ERRORS = (FileNotFoundError, CheckpointError, KeyError, ValueError, ZooError)


def run_cli(main: Callable[[], object]) -> None:
    """Runs ``main``; input errors print ``error: ...`` on one line and exit with status 2.

    Set ``DENSE_CLIP_DEBUG=1`` to get the full traceback instead.
    """
    if os.environ.get('DENSE_CLIP_DEBUG') == '1':
        main()
        return
    try:
        main()
    except _USER_ERRORS as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        text = ' '.join(str(message).split())
        print(f'error: {type(err).__name__}: {text} (DENSE_CLIP_DEBUG=1 for a traceback)',
              file=sys.stderr)
        sys.exit(2)
