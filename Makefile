# Quick start: `make demo`, `make test`. Both create .venv on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install model schemas lint clean bench

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

schemas: $(STAMP)
	$(BIN)/python -m alarmfilter.events.schema schemas

lint: $(STAMP)
	$(BIN)/ruff check alarmfilter tests
	$(BIN)/mypy alarmfilter/engine alarmfilter/signals alarmfilter/policy

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
