#!/usr/bin/env bash
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args...]
# CHECKPOINT "-" means none (training-free methods).
# Launches tools/test.py with torchrun; machines without CUDA run on CPU with gloo.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
CKPT=()
[[ "$CHECKPOINT" == "-" ]] || CKPT=("$CHECKPOINT")
PORT=${PORT:-29500}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$ROOT/tools/test.py" "$CONFIG" "${CKPT[@]}" --launcher pytorch "${@:4}"
