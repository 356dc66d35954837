# The two commands of the README: `make run` and `make test`, each working
# on a fresh machine (they create .venv and install first).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-e2e test-faults lint bench load clean

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "licensecodes needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

run: $(INSTALLED)
	$(BIN)/licensecodes serve

test: $(INSTALLED)
	$(BIN)/python -m pytest

test-e2e: $(INSTALLED)
	$(BIN)/python -m pytest -m e2e

# Workers killed, paused and restarted at random points, the invariants
# checked after every trial (tests/faults; `make test` leaves it out).
test-faults: $(INSTALLED)
	$(BIN)/python -m pytest -m faults tests/faults

bench: $(INSTALLED)
	$(BIN)/python -m bench

# 20 publishers uploading at once for LOAD_MINUTES (default 5) against a
# fresh service; fails on a 5xx, an undecided upload or a slow drain.
load: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[load]'
	$(BIN)/python -m bench.load

lint: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	$(BIN)/ruff check shared web worker tests
	$(BIN)/ruff format --check shared web worker tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var/test
