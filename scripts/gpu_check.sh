#!/usr/bin/env bash
# GPU check for `golong-data train` (issue 15): SmolLM2-135M-Instruct trained with GRPO and TMN-Reweight on
# pipeline-built samples, held-out greedy reward per task type before/after, rollout tokens/s of TRL's default
# generate vs the fast paths. Target: < 8 min on one H200.
#
# The GPU box has Python 3.12, torch, transformers 5.x and accelerate, but not trl, datasets, gguf or
# math-verify, and takes at most 64 MiB of files per call; /tmp survives between calls while it stays up.
# So the 94 MiB GGUF travels in two halves, in two calls:
#
#   here (CPU):  bash scripts/gpu_check.sh prepare      # wheels + GGUF halves + samples into .cache/gpu-carry/{1,2}
#   GPU call 1:  bash scripts/gpu_check.sh stage        # carry .cache/gpu-carry/1: copies it to /tmp/golong-gpu
#   GPU call 2:  bash scripts/gpu_check.sh              # carry .cache/gpu-carry/2: joins the GGUF, runs the check
#
# With the device tool: run(command="bash scripts/gpu_check.sh stage", carry=[".cache/gpu-carry/1"]), then
# run(command="bash scripts/gpu_check.sh", carry=[".cache/gpu-carry/2"], timeout_s=560). Results: $OUT
# (gpu_check.json, gpu_check.png, gpu_check_<algo>.png, gpu_check.log); copy them to docs/gpu_check/.
# Wheels are installed with --no-deps into a scratch directory, never over the box's packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CARRY=.cache/gpu-carry
STAGE=${STAGE:-/tmp/golong-gpu}
OUT=${OUT:-${OUT_DIR:-gpu-check-out}}
PY=${PY:-${PYTHON:-python3}}
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
WHEELS=(trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 xxhash==4.1.0 gguf==0.19.0
        math-verify==0.9.0 latex2sympy2_extended==1.11.0 antlr4-python3-runtime==4.13.2)

MODE=run
if [[ "${1:-}" =~ ^(prepare|stage|run)$ ]]; then MODE=$1; shift; fi
case "$MODE" in
prepare)
  # Run on the CPU machine, in the project venv (PY=.venv/bin/python).
  CACHE=${GOLONG_HOME:-${GOLONG_CACHE:-$HOME/.cache/golong-data}}
  rm -rf "$CARRY" && mkdir -p "$CARRY/1/wheels" "$CARRY/2"
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
      -d "$CARRY/1/wheels" "${WHEELS[@]}"
  $PY -c "from golong_data.train.models import fetch_alias_gguf; fetch_alias_gguf('smollm2-135m')"
  split -n 2 -d "$CACHE/models/$GGUF_NAME" "$CARRY/gguf.part"
  mv "$CARRY/gguf.part00" "$CARRY/1/" && mv "$CARRY/gguf.part01" "$CARRY/2/"
  sha256sum "$CACHE/models/$GGUF_NAME" | cut -d' ' -f1 > "$CARRY/2/gguf.sha256"
  # Samples: the synthesize stage's program constructors at the 1k/2k buckets over the real corpus (books and
  # papers; the fixture corpus where it is not fetched), kept when the prompt + 256 tokens fit SmolLM2's 8K.
  CORPUS=("$CACHE/corpus/books" "$CACHE/corpus/papers")
  [ -d "${CORPUS[0]}" ] || CORPUS=(tests/fixtures/books tests/fixtures/papers tests/fixtures/dialogues)
  $PY - "$CARRY/2" "${SAMPLES_PER_TYPE:-60}" "${CORPUS[@]}" <<'EOF'
import shutil, sys, tempfile
from pathlib import Path
from golong_data.train.models import load_model_and_tokenizer
from golong_data.train.samples import build_fitted_samples
dest, per_type, corpus = Path(sys.argv[1]), int(sys.argv[2]), [Path(p) for p in sys.argv[3:]]
_, tok = load_model_and_tokenizer("smollm2-135m")
with tempfile.TemporaryDirectory() as work:
    path = build_fitted_samples(corpus, Path(work), tok, max_prompt_tokens=8192 - 256, buckets=["1k", "2k"],
                                per_type=per_type)
    shutil.copyfile(path, dest / "samples.jsonl")
print(sum(1 for _ in open(dest / "samples.jsonl")), "samples ->", dest / "samples.jsonl")
EOF
  du -sh "$CARRY"/1 "$CARRY"/2
  ;;
stage)
  mkdir -p "$STAGE" && cp -r "$CARRY/1/." "$STAGE/" && ls -la "$STAGE"
  ;;
run)
  [ -d "$CARRY/2" ] && cp -r "$CARRY/2/." "$STAGE/"
  mkdir -p "${GOLONG_HOME:=$STAGE/cache}/models" && export GOLONG_HOME
  GGUF="$GOLONG_HOME/models/$GGUF_NAME"
  if [ ! -s "$GGUF" ]; then
    [ -f "$STAGE/gguf.part00" ] && [ -f "$STAGE/gguf.part01" ] || { echo "GGUF halves missing in $STAGE: run \`stage\` first (see this script's header)" >&2; exit 2; }
    cat "$STAGE/gguf.part00" "$STAGE/gguf.part01" > "$GGUF.part"
    [ "$(sha256sum "$GGUF.part" | cut -d' ' -f1)" = "$(cat "$STAGE/gguf.sha256")" ] || { echo "GGUF checksum mismatch" >&2; exit 2; }
    mv "$GGUF.part" "$GGUF"
  fi
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  SITE=$STAGE/site
  if ! $PY -c "import trl, datasets, gguf, math_verify" 2>/dev/null; then
    $PY -m pip install -q --no-index --no-deps --target "$SITE" "$STAGE"/wheels/*.whl
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  fi
  $PY -c "import torch, transformers, trl; print('torch', torch.__version__, 'transformers', transformers.__version__,
'trl', trl.__version__, 'cuda', torch.cuda.is_available())"
  mkdir -p "$OUT"
  timeout 530 $PY scripts/gpu_check.py --device cuda --data "$STAGE/samples.jsonl" --out "$OUT" "$@" 2>&1 \
    | grep --line-buffered -v -e FutureWarning -e warnings.warn | tee "$OUT/gpu_check.log"
  ;;
*)
  echo "usage: $0 [prepare|stage|run] (see the header)" >&2; exit 2 ;;
esac
