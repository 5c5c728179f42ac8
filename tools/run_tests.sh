#!/usr/bin/env bash
# The README's test command: sets up the environment if needed, prints the environment report,
# then runs lint and the test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
VENV="${DENSE_CLIP_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
echo "== environment"
python tools/collect_env.py
echo "== tests"
python -m pytest -q -m 'not slow' "$@"
