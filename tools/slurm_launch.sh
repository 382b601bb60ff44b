#!/usr/bin/env bash
# Shared by slurm_train.sh and slurm_test.sh: run SCRIPT (train.py or test.py) on a slurm
# cluster, one task per GPU, with SCRIPT_ARGS and --launcher=slurm.
#   bash tools/slurm_launch.sh PARTITION JOB_NAME SCRIPT SCRIPT_ARGS...
# Env as in mmdet: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS ("");
# PYTHON: the interpreter (default: the project's .venv/bin/python if there, else python).
set -x

PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
TOOLS="$(dirname "$0")"
VENV_PY="$TOOLS/../.venv/bin/python"
[ -x "$VENV_PY" ] || VENV_PY=python
PYTHON=${PYTHON:-$VENV_PY}

PYTHONPATH="$TOOLS/..":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    --gres=gpu:${GPUS_PER_NODE} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${GPUS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$TOOLS/$SCRIPT" "$@" --launcher="slurm"
