#!/usr/bin/env bash
# Sets up dense_clip's virtual environment: torch 2.14.1 (CPU or CUDA build from pip), mmengine,
# mmcv 2.1.0 built from source with its compiled ops, mmsegmentation, mmdet, open_clip, timm,
# segment-anything, and dense_clip itself in editable mode.
#
# Idempotent: a second run checks a stamp (hash of the requirement files and this script) and
# returns in seconds. The mmcv wheel it builds is kept in $DENSE_CLIP_CACHE/wheels (default
# ~/.cache/dense_clip/wheels) so later set-ups, fresh clones included, reuse it.
#
# Environment:
#   DENSE_CLIP_VENV   where the virtual environment lives (default: <repo>/.venv)
#   DENSE_CLIP_CACHE  cache folder for built wheels (default: ~/.cache/dense_clip)
#   PYTHON            interpreter that creates the venv (default: python3.11, else python3)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DENSE_CLIP_VENV:-$REPO/.venv}"
CACHE="${DENSE_CLIP_CACHE:-$HOME/.cache/dense_clip}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
STEP="start"
START_TIME=$(date +%s)

log() { printf '[setup %3ss] %s\n' "$(( $(date +%s) - START_TIME ))" "$*"; }
on_error() { echo "[setup] FAILED at step: ${STEP} (see the output above)" >&2; }
trap on_error ERR
step() { STEP="$1"; log "$1"; }

stamp_of() {
    cat "$REPO"/requirements/*.txt "$REPO/setup.py" "$REPO/tools/setup_env.sh" | sha256sum | cut -d' ' -f1
}

STAMP_FILE="$VENV/.dense_clip_setup_stamp"
WANT_STAMP="$(stamp_of)"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$WANT_STAMP" ]] \
    && "$VENV/bin/python" -c "import dense_clip, mmcv.ops, mmseg, mmdet" 2>/dev/null; then
    log "environment at $VENV is up to date"
    exit 0
fi

step "create virtual environment at $VENV"
if [[ ! -x "$VENV/bin/python" ]]; then
    PY="${PYTHON:-}"
    if [[ -z "$PY" ]]; then
        if command -v python3.11 >/dev/null; then PY=python3.11; else PY=python3; fi
    fi
    "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"$VENV/bin/python" -c 'import sys; v = sys.version_info; print(f"[setup] python {v.major}.{v.minor}.{v.micro}")'

step "install build tools (setuptools <81, wheel, ninja)"
"${PIP[@]}" install -q --upgrade pip
"${PIP[@]}" install -q -r "$REPO/requirements/build.txt"

step "install torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION"
if ! "$VENV/bin/python" -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

step "install mmengine and the runtime requirements"
"${PIP[@]}" install -q -r "$REPO/requirements/runtime.txt"

step "install mmcv $MMCV_VERSION with compiled ops"
if "$VENV/bin/python" -c "import mmcv, sys; from mmcv.ops import nms, roi_align; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
    log "mmcv $MMCV_VERSION with ops already installed"
else
    # The wheel is only valid for the torch build and Python it was compiled against.
    KEY="$("$VENV/bin/python" -c 'import sys, torch; print(f"torch{torch.__version__}-cp{sys.version_info.major}{sys.version_info.minor}".replace("+", "_"))')"
    WHEEL_DIR="$CACHE/wheels/$KEY"
    mkdir -p "$WHEEL_DIR"
    WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
    if [[ -z "$WHEEL" ]]; then
        step "build mmcv $MMCV_VERSION from source (about 10 minutes on 2 cores; cached afterwards in $WHEEL_DIR)"
        BUILD_DIR="$(mktemp -d)"
        "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
            "mmcv==$MMCV_VERSION" -d "$BUILD_DIR"
        tar -xzf "$BUILD_DIR"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD_DIR"
        SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
        # torch >= 2.6 headers need C++20 (mmcv 2.1.0 asks for C++17).
        "$VENV/bin/python" - "$SRC/setup.py" <<'PYEOF'
import pathlib, sys
path = pathlib.Path(sys.argv[1])
text = path.read_text()
if '-std=c++17' not in text:
    sys.exit(f'{path}: expected a -std=c++17 flag to replace; mmcv source layout changed')
path.write_text(text.replace('-std=c++17', '-std=c++20'))
PYEOF
        (cd "$SRC" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" wheel -q --no-deps --no-build-isolation . -w "$BUILD_DIR/dist")
        cp "$BUILD_DIR"/dist/mmcv-*.whl "$WHEEL_DIR/"
        rm -rf "$BUILD_DIR"
        WHEEL="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)"
    else
        log "reusing cached wheel $WHEEL"
    fi
    "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL"
    "${PIP[@]}" install -q "$WHEEL"  # its pure-Python dependencies
fi

step "install mmsegmentation, mmdet, segment-anything, the web demo and test tools"
"${PIP[@]}" install -q -r "$REPO/requirements/seg.txt" -r "$REPO/requirements/det.txt" \
    -r "$REPO/requirements/sam.txt" -r "$REPO/requirements/demo.txt" \
    -r "$REPO/requirements/tests.txt"

step "install the COCO panoptic API (without its dependencies; see requirements/panoptic.txt)"
"${PIP[@]}" install -q --no-deps -r "$REPO/requirements/panoptic.txt"

step "install openmim (without its dependencies; see requirements/mim.txt)"
"${PIP[@]}" install -q -r "$REPO/requirements/mim.txt"
"${PIP[@]}" install -q --no-deps "openmim>=0.3.9"

step "install dense_clip (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$REPO"

step "check the compiled ops"
"$VENV/bin/python" -c "import torch; from mmcv.ops import nms; b = torch.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.]]); s = torch.tensor([0.9, 0.8]); assert nms(b, s, 0.5)[1].numel() == 1"

echo "$WANT_STAMP" > "$STAMP_FILE"
log "done: environment at $VENV"
