# Two commands set everything up: `make demo` and `make test` both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.recuplift-installed

.PHONY: demo test test-fast bench clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# PyTorch first, pinned: the CPU wheel; a bare `torch` would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The Open Bandit Dataset sample ships in obp's wheel; its own code needs pandas<2, so no deps.
	$(BIN)/python -m pip install --quiet --no-deps obp==0.4.1
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recuplift demo

# Two worker processes, each running whole test files (module fixtures are built once): most of the suite is
# single-threaded Python (notebook kernels, CLI child processes), so on the 2-core machine two workers took 6.5 min
# where one took 15-19 (2026-12-07). TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
