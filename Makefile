# Everything a fresh machine with only Python 3.11+ needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(STAMP_BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

## make demo: run Trustable on 127.0.0.1:8000 over SQLite in ./.trustable, with demo data
demo: $(STAMP_RUN)
	$(BIN)/trustable demo

## make test: the whole suite, then ruff, mypy (strict) and the import contracts
test: $(STAMP_TEST)
	$(BIN)/python -m pytest
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

## make bench: the measurements of bench/, figures written to bench/RESULTS.md
# One BLAS thread: implicit's ALS asks for it, and the measured server and its
# clients already share the machine's cores.
bench: $(STAMP_BENCH)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
