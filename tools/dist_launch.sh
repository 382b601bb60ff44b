#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: launch SCRIPT (train.py or test.py) in GPUS
# processes per node with torchrun; SCRIPT gets its NPOS positional arguments, then
# `--launcher pytorch`, then the rest.
#   bash tools/dist_launch.sh SCRIPT GPUS NPOS SCRIPT_ARGS...
# Env as in mmdet: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1);
# PYTHON: the interpreter (default: the project's .venv/bin/python if there, else python).
#
# CPU (no CUDA device): GPUS means processes. mmengine 0.10's `--launcher pytorch` calls
# torch.cuda.set_device() and wraps the model in DDP with device_ids=[LOCAL_RANK], both of
# which fail without CUDA. So when torch sees no CUDA device (or CPU_DDP=1; CPU_DDP=0
# forces the GPU path) each process first joins a gloo process group itself (mmengine then
# skips its own init: env_cfg.dist_cfg.backend is not used) and the run gets
# --cfg-options model_wrapper_cfg.device_ids=None (mmengine's DictAction merges repeated
# --cfg-options, later ones winning, so yours still apply). Nothing to pass.
SCRIPT=$1
GPUS=$2
POSITIONAL=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS="$(dirname "$0")"
VENV_PY="$TOOLS/../.venv/bin/python"
[ -x "$VENV_PY" ] || VENV_PY=python
PYTHON=${PYTHON:-$VENV_PY}
CPU_DDP=${CPU_DDP:-$("$PYTHON" -c 'import torch; print(int(not torch.cuda.is_available()))')}

RUN=("$PYTHON")
CPU_ARGS=()
if [ "$CPU_DDP" = 1 ]; then
    RUN=("$PYTHON" -c 'import runpy, sys, torch.distributed as d
d.init_process_group("gloo"); sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")')
    CPU_ARGS=(--cfg-options model_wrapper_cfg.type=MMDistributedDataParallel
              model_wrapper_cfg.device_ids=None)
fi

PYTHONPATH="$TOOLS/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    --no-python \
    "${RUN[@]}" \
    "$TOOLS/$SCRIPT" \
    "${@:1:$POSITIONAL}" \
    --launcher pytorch "${CPU_ARGS[@]}" "${@:$((POSITIONAL + 1))}"
