# The README's commands. Each target makes its own virtual environment and installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: app demo test lint bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[app,osm]"
	touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[all]"
	touch $@

## app: the main job, the map app on the bundled demo region (http://localhost:8501)
app: $(VENV)/.installed-app
	$(BIN)/streamlit run app.py --server.headless true --browser.gatherUsageStats false

## demo: the batch job on the demo region: layers, a siting run and a weekly plan, with summaries
demo: $(VENV)/.installed-app
	$(BIN)/xingtu demo

## browser: Debian's Chromium for the end-to-end test (needs root or sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

## test: lint, type check, then the whole test suite, with the browser test
test: $(VENV)/.installed-all browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

## lint: ruff (with the numpy docstring rules) and mypy, configured in pyproject.toml
lint: $(VENV)/.installed-all
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-all
	$(BIN)/python bench/grid.py
	$(BIN)/python bench/location.py
	$(BIN)/python bench/allocation.py

clean:
	rm -rf $(VENV) out
