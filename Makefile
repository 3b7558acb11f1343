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

## Run a game day on the embedded local stack (override SCENARIO=...).
gameday: $(STAMP)
	$(BIN)/gameday run $(SCENARIO)

## A real headless browser for the report tests (Debian's chromium), installed where missing.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## The test suite CI runs: lint, types, unit and integration tests (the compose tests on a Docker
## engine compose/engine.sh installs, starts and stops where none answers).
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	compose/engine.sh up
	status=0; $(BIN)/pytest -q -p no:cacheprovider --durations=25 || status=$$?; \
		compose/engine.sh stop; exit $$status

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) reports/*/ .mypy_cache .ruff_cache
