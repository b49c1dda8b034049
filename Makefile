# Two commands do all the set-up on a fresh machine: `make run` (the app) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-all lint bench demo clean-venv check-system

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Launch the desktop app on a working library (a demo library is built on first run).
## First checks that Qt's system libraries are installed and names the missing packages (app/system_check.py).
run: check-system $(STAMP)
	$(BIN)/pmc-search --demo-if-empty $(ARGS)

## The default test suite (fast; what CI runs).
test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

## Everything, slow tests included.
test-all: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m 'not gpu' $(PYTEST_ARGS)

## Only the system-library check of `make run`.
check-system:
	$(PYTHON) app/system_check.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean-venv:
	rm -rf $(VENV)
