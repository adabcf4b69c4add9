#!/usr/bin/env bash
# GPU check for `golong-data train` (issue 9): < 8 min on one H100 with nothing but this repo and carried wheels.
#
# The GPU machine has torch, transformers, accelerate and peft, but not trl or datasets: carry their pure-Python
# wheels for the box's Python (3.12) in $WHEELS (default .whl), math-verify's too (numerical reasoning), e.g.
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp -d .whl \
#       trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 \
#       math-verify==0.9.0 latex2sympy2_extended==1.11.0 antlr4-python3-runtime==4.13.2
# They are installed with --no-deps into a scratch directory, never over the box's packages.
# Writes $OUT/gpu_check.json (per-task reward curves, tokens/s, peak memory, TMN overhead) and $OUT/gpu_check.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WHEELS=${WHEELS:-.whl}
OUT=${OUT:-${OUT_DIR:-gpu-check-out}}
SITE=${SITE:-/tmp/golong-gpu-site}
PY=${PYTHON:-python3}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch, transformers, accelerate; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'accelerate', accelerate.__version__, 'cuda', torch.cuda.is_available())"

if ! $PY -c "import trl, datasets" 2>/dev/null; then
  if ! ls "$WHEELS"/trl-*.whl >/dev/null 2>&1; then
    echo "trl/datasets are not installed and no wheels in $WHEELS (see the header of this script)" >&2
    exit 2
  fi
  $PY -m pip install -q --no-index --no-deps --target "$SITE" "$WHEELS"/*.whl
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
$PY -c "import trl, datasets; print('trl', trl.__version__, 'datasets', datasets.__version__)"

mkdir -p "$OUT"
timeout 500 $PY scripts/gpu_check.py --device cuda --out "$OUT" "$@" 2>&1 | grep -v -e FutureWarning -e warnings.warn \
  | tee "$OUT/gpu_check.log"
