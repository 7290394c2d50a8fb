# The two commands of the README: `make run` and `make test`. Both are idempotent and install
# everything they need into .venv on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export PREFECT_HOME := $(CURDIR)/.prefect

.PHONY: install run test test-fast bench audit server stop clean-run

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make run: start (or reuse) the local Prefect server, make sure DVC and its local remote exist,
## reproduce the whole pipeline with `dvc repro`, push artifacts to the remote, print where to look.
run: install
	$(PY) -m flows.run_pipeline

## make test: the whole test suite (unit, stage and end-to-end `dvc repro` on generated corpora).
test: install
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) -m benchmarks.run

## Reproducibility audit: two clean runs in separate directories must give identical dvc.lock hashes.
audit: install
	$(PY) -m flows.audit

server: install
	$(PY) -m flows.server start

stop:
	-$(PY) -m flows.server stop
