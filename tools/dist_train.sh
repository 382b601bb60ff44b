#!/usr/bin/env bash
# Distributed training, GPUS processes per node, launched with torchrun:
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py args: --work-dir, --cfg-options...]
# Env as in mmdet: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1);
# PYTHON: the interpreter (default: the project's .venv/bin/python if there, else python).
#
# CPU (no CUDA device, e.g. for a quick check): GPUS means processes. mmengine 0.10's
# `--launcher pytorch` calls torch.cuda.set_device() and wraps the model in DDP with
# device_ids=[LOCAL_RANK], both of which fail without CUDA. So when torch sees no CUDA
# device (or CPU_DDP=1; CPU_DDP=0 forces the GPU path) each process first joins a gloo
# process group itself (mmengine then skips its own init, so env_cfg.dist_cfg.backend is
# not used) and the run gets --cfg-options model_wrapper_cfg.device_ids=None (put before
# your own args, so yours win). Nothing to pass, e.g.
#   bash tools/dist_train.sh configs/sdpt/tiny-glip_shapes.py 2 --work-dir /tmp/x
CONFIG=$1
GPUS=$2
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
    set -- "$1" "$2" --cfg-options model_wrapper_cfg.type=MMDistributedDataParallel \
        model_wrapper_cfg.device_ids=None "${@:3}"
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
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
