# Two commands do all the set-up on a fresh machine: `make run` (the app) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-all test-bundle lint bench demo clean-venv bundle bundle-cpu install-desktop clean-bundle check-system

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
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m 'not gpu and not bundle' $(PYTEST_ARGS)

## The desktop bundle (one folder + .tar.gz) from the packages in VENV: `make bundle VENV=/path/to/venv`.
## A CUDA torch in VENV gives dist/cuda/, a CPU torch dist/cpu/. See README "Packaging".
bundle:
	@test -x $(BIN)/python || $(MAKE) --no-print-directory $(STAMP)
	@$(BIN)/python -c "import PyInstaller" 2>/dev/null || $(BIN)/python -m pip install --quiet 'pyinstaller>=6'
	$(BIN)/python packaging/build_bundle.py $(BUNDLE_ARGS)

## The CPU-only bundle: a separate venv with torch's CPU wheels (no CUDA libraries), then `make bundle` with it.
CPU_VENV ?= .venv-cpu
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
bundle-cpu:
	test -x $(CPU_VENV)/bin/python || $(PYTHON) -m venv $(CPU_VENV)
	$(CPU_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CPU_VENV)/bin/python -m pip install --quiet torch torchvision --index-url $(TORCH_CPU_INDEX)
	$(CPU_VENV)/bin/python -m pip install --quiet -e '.[build]'
	$(MAKE) --no-print-directory bundle VENV=$(CPU_VENV)

## Build the bundle, unpack its archive into an empty folder and run its self-test there under `env -i`.
test-bundle: $(STAMP)
	@$(BIN)/python -c "import PyInstaller" 2>/dev/null || $(BIN)/python -m pip install --quiet 'pyinstaller>=6'
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -m bundle tests/packaging $(PYTEST_ARGS)

## Put an unpacked bundle into the user's application menu (Linux): `make install-desktop BUNDLE=dist/cuda/...`.
BUNDLE ?= dist/cuda/PMC Figure Search
install-desktop:
	packaging/linux/install.sh "$(BUNDLE)"

clean-bundle:
	rm -rf build/bundle dist

## Only the system-library check of `make run`.
check-system:
	$(PYTHON) app/system_check.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean-venv:
	rm -rf $(VENV)
