#!/usr/bin/env bash
# Distributed testing, GPUS processes per node, launched with torchrun:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py args: --work-dir, --out...]
# CHECKPOINT: an adapter-only checkpoint of tools/train.py (the base weights come from the
# config's model.base_checkpoint) or a full one (tools/merge_adapter.py).
# Env as in mmdet: NNODES, NODE_RANK, PORT, MASTER_ADDR; on a machine without CUDA, GPUS
# gloo processes (see tools/dist_launch.sh).
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
exec bash "$(dirname "$0")/dist_launch.sh" test.py "$GPUS" 2 "$CONFIG" "$CHECKPOINT" "${@:4}"
