#!/usr/bin/env bash
# Training on a slurm cluster, one task per GPU (env: see tools/slurm_launch.sh):
#   [GPUS=8] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py args]
exec bash "$(dirname "$0")/slurm_launch.sh" "$1" "$2" train.py "$3" --work-dir="$4" "${@:5}"
