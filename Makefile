# The two commands a newcomer runs: `make demo` and `make test`. Both bootstrap .venv from nothing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GD := $(VENV)/bin/golong-data
export GOLONG_CACHE ?= $(HOME)/.cache/golong-data

.PHONY: install local-llm test test-long test-scale demo bench lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0  # pinned first: the CPU wheel; unpinned pip would fetch a multi-GB CUDA build
	$(PY) -m pip install -q -e '.[dev,card,train,ray]'
	$(PY) -m golong_data.tokens --fetch
	touch $@

install: $(VENV)/.installed

# The embedded default LLM: SmolLM2-135M served by llama-cpp-python (compiled once per machine, cached).
local-llm: install
	bash scripts/setup_local_llm.sh $(PY)

test: install local-llm
	$(VENV)/bin/ruff check golong_data tests bench scripts
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

demo: install local-llm
	bash scripts/fetch_corpus.sh $(GOLONG_CACHE)/corpus
	$(GD) run examples/demo.yaml

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: install
	$(VENV)/bin/ruff check golong_data tests bench scripts

clean:
	rm -rf $(VENV) $(VENV_SCALE) work .pytest_cache
