#!/usr/bin/env bash
# Testing on a slurm cluster, one task per GPU (env: see tools/slurm_launch.sh):
#   [GPUS=8] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py args]
# CHECKPOINT: adapter-only (base from the config's model.base_checkpoint) or full.
exec bash "$(dirname "$0")/slurm_launch.sh" "$1" "$2" test.py "$3" "$4" "${@:5}"
