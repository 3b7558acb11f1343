# Every target does its own set-up: a fresh clone needs only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/failover-primary-crash.yaml

.PHONY: setup gameday test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## Run a game day on the embedded local stack (override SCENARIO=...).
gameday: $(STAMP)
	$(BIN)/gameday run $(SCENARIO)

## The test suite CI runs: lint, types, unit and integration tests.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider --durations=25

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) reports/*/ .mypy_cache .ruff_cache
