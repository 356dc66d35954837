# The two commands of the README: `make run` and `make test`, each working
# on a fresh machine (they create .venv and install first).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test test-quick test-e2e test-faults lint bench fuzz load clean

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

# The unit tier alone (no database, no server started), each property
# checked on a few examples (the quick profile of tests/conftest.py): seconds.
test-quick: $(INSTALLED)
	$(BIN)/python -m pytest -m unit --hypothesis-profile=quick

test-e2e: $(INSTALLED)
	$(BIN)/python -m pytest -m e2e

# Workers killed, paused and restarted at random points, the invariants
# checked after every trial (tests/faults; `make test` leaves it out).
test-faults: $(INSTALLED)
	$(BIN)/python -m pytest -m faults tests/faults

# Coverage-guided fuzzing of the TXT and CSV readers (fuzz/readers.py, atheris):
# FUZZ_SECONDS in all, half to each reader, seeded from fuzz/corpus/<reader>;
# what it learns stays in var/fuzz/<reader>, a crashing input in var/fuzz/.
FUZZ_SECONDS ?= 600
fuzz: $(INSTALLED)
	@$(BIN)/python -c 'import atheris' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[fuzz]'
	@mkdir -p var/fuzz/txt var/fuzz/csv
	for reader in txt csv; do \
		$(BIN)/python fuzz/readers.py $$reader -max_total_time=$$(( $(FUZZ_SECONDS) / 2 )) -max_len=8192 \
			-print_final_stats=1 -artifact_prefix=var/fuzz/ var/fuzz/$$reader fuzz/corpus/$$reader \
			|| exit 1; \
	done

bench: $(INSTALLED)
	$(BIN)/python -m bench

# 20 publishers uploading at once for LOAD_MINUTES (default 5) against a
# fresh service; fails on a 5xx, an undecided upload or a slow drain.
load: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[load]'
	$(BIN)/python -m bench.load

lint: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[lint]'
	$(BIN)/ruff check shared web worker client tests fuzz bench
	$(BIN)/ruff format --check shared web worker client tests fuzz bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var/test
