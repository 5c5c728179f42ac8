"""ruff (configured in pyproject.toml) passes on the whole repository."""

import shutil
import subprocess
import sys

from tests.conftest import REPO


def test_ruff_check_passes():
    ruff = shutil.which('ruff') or f'{sys.executable} -m ruff'
    result = subprocess.run(f'{ruff} check .', shell=True, cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
