#!/usr/bin/env bash
# The whole ODinW suite with one ODinW config, one dataset per run, then one table:
#   bash tools/odinw_suite.sh CONFIG GPUS [tools/train.py args: --amp, --cfg-options ...]
# For each dataset of $ODINW_SUITE (odinw13 | odinw35, default odinw13; names from
# mmdet_sdpt.datasets.odinw_suite): ODINW_DATASET=<name> tools/dist_train.sh, then
# tools/dist_test.sh on the work dir's best_*.pth (the configs set save_best), with the
# same --cfg-options; last, tools/collect_results.py over the work dirs' root --suite.
# Work dirs are the config's work_dir per dataset (don't pass --work-dir).
# Env: SKIP_DONE=1 skips datasets whose work dir already holds a test result;
# RESULTS_OUT (default <root>/<suite>: .md/.csv/.png); PYTHON; TOOLS_DIR (default: here).
set -euo pipefail
CONFIG=$1; GPUS=$2; shift 2
TOOLS_DIR=${TOOLS_DIR:-$(dirname "$0")}
VENV_PY="$(dirname "$0")/../.venv/bin/python"
[ -x "$VENV_PY" ] || VENV_PY=python
PYTHON=${PYTHON:-$VENV_PY}
export ODINW_SUITE=${ODINW_SUITE:-odinw13}

TEST_ARGS=(); in_cfg=0  # the model the test builds must be the one trained
for a in "$@"; do
    case $a in --cfg-options) in_cfg=1; TEST_ARGS+=("$a") ;; --*) in_cfg=0 ;;
        *) if [ $in_cfg = 1 ]; then TEST_ARGS+=("$a"); fi ;; esac
done
tested() {  # a test result: <work_dir>/<timestamp>/<timestamp>.json
    for f in "$1"/*_*/*_*.json; do
        [[ $f =~ /([0-9]{8}_[0-9]{6})/([0-9]{8}_[0-9]{6})\.json$ ]] &&
            [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && return 0
    done; return 1
}
# "<dataset> <work dir>" per line: the config's work_dir with ODINW_DATASET=<dataset>
RUNS=$("$PYTHON" -c 'import os, sys; from mmengine.config import Config
from mmdet_sdpt.datasets import odinw_suite
for name in odinw_suite(os.environ["ODINW_SUITE"]):  # mmengine logs to stdout too: "@@ "
    os.environ["ODINW_DATASET"] = name; print("@@", name, Config.fromfile(sys.argv[1]).work_dir)
' "$CONFIG" | sed -n 's/^@@ //p')
while read -r NAME WD <&3; do
    [[ $WD == */$NAME* ]] || { echo "work_dir $WD does not name $NAME" >&2; exit 1; }
    ROOT=${WD%%/$NAME*}
    if [ "${SKIP_DONE:-0}" = 1 ] && tested "$WD"; then echo "[$NAME] tested: skipped"; continue; fi
    ODINW_DATASET=$NAME bash "$TOOLS_DIR/dist_train.sh" "$CONFIG" "$GPUS" --work-dir "$WD" "$@"
    CKPT=$(ls -t "$WD"/best_*.pth 2>/dev/null | head -n 1) || true
    [ -n "$CKPT" ] || { echo "[$NAME] no best_*.pth in $WD" >&2; exit 1; }
    ODINW_DATASET=$NAME bash "$TOOLS_DIR/dist_test.sh" "$CONFIG" "$CKPT" "$GPUS" \
        --work-dir "$WD" ${TEST_ARGS[@]+"${TEST_ARGS[@]}"}
done 3<<< "$RUNS"
"$PYTHON" "$TOOLS_DIR/collect_results.py" "$ROOT" --suite "$ODINW_SUITE" \
    --out "${RESULTS_OUT:-$ROOT/$ODINW_SUITE}"
