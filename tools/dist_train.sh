#!/usr/bin/env bash
# Distributed training, GPUS processes per node, launched with torchrun:
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py args: --work-dir, --cfg-options...]
# Env as in mmdet: NNODES, NODE_RANK, PORT, MASTER_ADDR; on a machine without CUDA, GPUS
# gloo processes (see tools/dist_launch.sh), e.g.
#   bash tools/dist_train.sh configs/sdpt/tiny-glip_shapes.py 2 --work-dir /tmp/x
CONFIG=$1
GPUS=$2
exec bash "$(dirname "$0")/dist_launch.sh" train.py "$GPUS" 1 "$CONFIG" "${@:3}"
