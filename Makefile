# The two commands a newcomer runs: `make demo` and `make test`. Both bootstrap .venv from nothing.
# All per-user state (LLM cache, llama.cpp wheel, model, tokenizer, corpus) lives in $GOLONG_HOME.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GD := $(VENV)/bin/golong-data
export GOLONG_HOME ?= $(HOME)/.cache/golong-data

.PHONY: install install-core local-llm local-llm-bg test test-long test-scale demo bench lint clean

# What the pipeline needs (the demo): the package, its card plots, the Qwen tokenizer file.
$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[card]'
	$(PY) -m golong_data.tokens --fetch
	touch $@

# Everything the tests need on top: training (torch, TRL), Ray, the reference metrics.
$(VENV)/.installed: $(VENV)/.core
	$(PY) -m pip install -q torch==2.13.0  # pinned first: the CPU wheel; unpinned pip would fetch a multi-GB CUDA build
	$(PY) -m pip install -q -e '.[dev,card,train,ray]'
	touch $@

install-core: $(VENV)/.core
install: $(VENV)/.installed

# The embedded default LLM: SmolLM2-135M served by llama-cpp-python (compiled once per machine into
# $GOLONG_HOME/wheels). local-llm-bg starts that build at once, beside everything else; the stages and tests
# that need the server wait for it.
# Its final pip install waits for LLM_AFTER (two pips in one venv at once would collide).
LLM_AFTER ?= $(VENV)/.core
local-llm-bg:
	@bash scripts/setup_local_llm.sh --background --after $(LLM_AFTER) $(PY)

local-llm: install-core
	bash scripts/setup_local_llm.sh $(PY)

test: LLM_AFTER := $(VENV)/.installed
test: local-llm-bg install
	$(VENV)/bin/ruff check golong_data tests bench scripts
	bash scripts/setup_local_llm.sh $(PY)  # waits for the background setup, says whether the LLM tests can run
	$(PY) -m pytest -q -p no:cacheprovider

# The real verl 0.9.1 (tests/scale) in a venv of its own: verl pins transformers < 5.11 and huggingface_hub 1.x,
# older than what .venv tests the TRL backend with, and its install adds ~3 min (torch + verl, measured).
VENV_SCALE := .venv-scale
$(VENV_SCALE)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_SCALE)
	$(VENV_SCALE)/bin/python -m pip install -q --upgrade pip
	$(VENV_SCALE)/bin/python -m pip install -q torch==2.13.0  # the CPU wheel, as above
	$(VENV_SCALE)/bin/python -m pip install -q -e '.[dev,train,ray,verl]'
	touch $@

test-scale: $(VENV_SCALE)/.installed
	GOLONG_REQUIRE_VERL=1 $(VENV_SCALE)/bin/python -m pytest -q -p no:cacheprovider tests/scale

test-long: install local-llm
	$(PY) -m pytest -q -p no:cacheprovider -m slow

# ingest, chunk, dedup and synthesize run while llama.cpp compiles; verify waits for the server.
demo: local-llm-bg install-core
	bash scripts/fetch_corpus.sh $(GOLONG_HOME)/corpus
	$(GD) run examples/demo.yaml

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: install
	$(VENV)/bin/ruff check golong_data tests bench scripts

clean:
	rm -rf $(VENV) $(VENV_SCALE) work .pytest_cache
