#!/usr/bin/env bash
# Distributed testing, GPUS processes per node, launched with torchrun:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py args: --work-dir, --out...]
# CHECKPOINT: an adapter-only checkpoint of tools/train.py (the base weights come from the
# config's model.base_checkpoint) or a full one (tools/merge_adapter.py).
# Env as in mmdet: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1);
# PYTHON: the interpreter (default: the project's .venv/bin/python if there, else python).
#
# CPU (no CUDA device): GPUS means processes. mmengine 0.10's `--launcher pytorch` calls
# torch.cuda.set_device() and wraps the model in DDP with device_ids=[LOCAL_RANK], both of
# which fail without CUDA. So when torch sees no CUDA device (or CPU_DDP=1; CPU_DDP=0
# forces the GPU path) each process first joins a gloo process group itself (mmengine then
# skips its own init: env_cfg.dist_cfg.backend is not used) and the run gets
# --cfg-options model_wrapper_cfg.device_ids=None (put before your own args, so yours
# win). Nothing to pass.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
VENV_PY="$(dirname "$0")/../.venv/bin/python"
[ -x "$VENV_PY" ] || VENV_PY=python
PYTHON=${PYTHON:-$VENV_PY}
CPU_DDP=${CPU_DDP:-$("$PYTHON" -c 'import torch; print(int(not torch.cuda.is_available()))')}

RUN=("$PYTHON")
if [ "$CPU_DDP" = 1 ]; then
    RUN=("$PYTHON" -c 'import runpy, sys, torch.distributed as d
d.init_process_group("gloo"); sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")')
    set -- "$1" "$2" "$3" --cfg-options model_wrapper_cfg.type=MMDistributedDataParallel \
        model_wrapper_cfg.device_ids=None "${@:4}"
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    --no-python \
    "${RUN[@]}" \
    "$(dirname "$0")/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch \
    "${@:4}"
