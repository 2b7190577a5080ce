# The two commands a newcomer needs: `make run` (the whole stack) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench fault-test clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	exec $(PY) -m devstack

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: $(STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)

# kill -9 fault injection against real worker processes, one and three of them (about eight
# minutes on 2 cores, not in `make test`)
fault-test: $(STAMP)
	$(PY) -m pytest -m fault -s tests/e2e/test_fault_kill9.py

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
