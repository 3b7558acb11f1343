# Every target does its own set-up: a fresh clone needs only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCENARIO ?= scenarios/failover-primary-crash.yaml

.PHONY: setup gameday test lint bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## Run a game day on the embedded local stack (override SCENARIO=...). make exits 2 on any failure
## ("Error N" names gameday's code): scripts/run-gameday, which this runs, exits with gameday's own.
gameday:
	scripts/run-gameday $(SCENARIO)

## A real headless browser for the report tests (Debian's chromium), installed where missing.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## The test suite CI runs: lint, types, unit and integration tests (the compose tests on a Docker
## engine compose/engine.sh installs, starts and stops where none answers). make exits 2 on any
## failure: scripts/run-tests, which this runs (and .ci/run), exits with the failing step's own code.
test:
	scripts/run-tests

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) reports/*/ .mypy_cache .ruff_cache
