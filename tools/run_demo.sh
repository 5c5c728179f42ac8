#!/usr/bin/env bash
# The README's main-job command: sets up the environment if needed, then runs tools/demo.py
# (defaults: the embedded tiny CLIP, a bundled synthetic image, its class list; no download).
# Extra arguments go to tools/demo.py, e.g. `bash tools/run_demo.sh my.jpg --classes "cat,dog"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
VENV="${DENSE_CLIP_VENV:-$ROOT/.venv}"
exec "$VENV/bin/python" "$ROOT/tools/demo.py" "$@"
