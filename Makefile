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

.PHONY: install system-deps run test soak bench bench-scale bench-scaling bench-github audit server stop

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## System packages the tests use where the machine allows (root + apt): a real Redis server for the
## shared dedup index, Debian's chromium for the browser tests. Without them those tests skip with a reason.
system-deps:
	@{ command -v redis-server && command -v chromium; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server chromium >/dev/null) ; } || \
	  echo "note: redis-server/chromium not available; Redis and browser tests will be skipped"

## make run: start (or reuse) the local Prefect server, make sure DVC and its local remote exist,
## reproduce the whole pipeline with `dvc repro`, push artifacts to the remote, print where to look.
run: install
	$(PY) -m flows.run_pipeline

## make test: the whole test suite (unit, stage and end-to-end `dvc repro` on generated corpora).
test: install system-deps
	$(PY) -m pytest -q -p no:cacheprovider -m "not soak"

## make soak: the long robustness runs (SIGKILL and rerun, hostile corpus, the two-run audit, every stage's bad params)
soak: install system-deps
	$(PY) -m pytest -q -p no:cacheprovider -m soak tests/robustness tests/distributed

bench: install
	$(PY) -m benchmarks.run

## The whole data pipeline (crawl..pack) on 1x/4x/20x real corpora (20x: 1 GiB+ of text; hours on 2 cores),
## 20x again on a local Dask cluster (2 workers, memory-limited) and a local Ray head, and a SIGKILL + rerun of
## dedup and pack at 20x: benchmarks/pipeline_scaling.json and the "Pipeline scaling" section of
## benchmarks/RESULTS.md (`python -m benchmarks.pipeline_scaling --help` for a subset of runs)
bench-scale: install
	$(PY) -m benchmarks.pipeline_scaling

bench-scaling: bench-scale

## Precision of the quality stage's removals on the 15 GitHub repositories of ../shared/corpora/github,
## against the reviewer labels in benchmarks/quality_labels/github.tsv (~2 min; exit 1 on a missed target)
bench-github: install
	$(PY) -m benchmarks.quality_precision --check

## Reproducibility audit: two clean runs in separate directories must give identical dvc.lock hashes.
audit: install
	$(PY) -m flows.audit

server: install
	$(PY) -m flows.server start

stop:
	-$(PY) -m flows.server stop
