#!/usr/bin/env bash
# Creates (or completes) the project's virtual environment in .venv and installs the
# pinned stack plus this package in editable mode. Idempotent: a complete env is left as is.
#
#   VENV=.venv        where the environment lives
#   MMCV_WHEELS=dir   a folder holding a prebuilt mmcv wheel (a cache only; without one
#                     mmcv 2.1.0 is compiled from source with its ops, ~15 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
stamp="$VENV/.mmdet_sdpt-env-$(sha256sum requirements.txt | cut -c1-12)"
if [ -f "$stamp" ]; then exit 0; fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q --upgrade "pip<26" wheel
# 1) torch first, pinned, so nothing else can pull a CUDA build.
pip install -q torch==2.13.0 numpy==1.26.4

# 2) mmcv with ops: a cached wheel if one is at hand, else a source build against this torch.
links=()
for d in ${MMCV_WHEELS:-} ../shared/wheels; do [ -d "$d" ] && links+=(--find-links "$d"); done
if ! "$VENV/bin/python" -c "import mmcv.ops" 2>/dev/null; then
  if ! pip install -q --no-index --no-deps "${links[@]}" mmcv==2.1.0 2>/dev/null; then
    echo "[setup] building mmcv 2.1.0 with ops from source (about 15 minutes on 2 cores)..."
    pip install -q "setuptools<70" ninja psutil addict mmengine==0.10.7 opencv-python==4.10.0.84
    MMCV_WITH_OPS=1 MAX_JOBS=2 pip install --no-build-isolation --no-deps mmcv==2.1.0
  fi
fi

# 3) the rest, pinned; the constraint keeps torch where it is.
echo "torch==2.13.0" > "$VENV/constraints.txt"
pip install -q -c "$VENV/constraints.txt" "${links[@]}" -r requirements.txt
pip install -q -c "$VENV/constraints.txt" --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import mmcv.ops, mmdet, mmdet_sdpt" 
touch "$stamp"
echo "[setup] environment ready in $VENV"
