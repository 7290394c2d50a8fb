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

.PHONY: install system-deps toolchains oracle profile-paper run test soak bench bench-scale bench-scaling bench-github bench-incremental audit calibrate server stop

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## System packages the tests use where the machine allows (root + apt): PostgreSQL for the Prefect server
## on PostgreSQL, Debian's chromium for the browser tests, the evaluation toolchains. Without them those
## tests skip with a reason (under CI=true the PostgreSQL and toolchain tests fail instead).
system-deps: toolchains
	@{ command -v chromium && { command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; }; } >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql chromium >/dev/null) ; } || \
	  echo "note: postgresql/chromium not available; PostgreSQL and browser tests will be skipped"

## Compilers and runtimes of the multilingual HumanEval (tasks/evaluate/toolchains.py): g++, javac/java 17,
## php, mono (C#), bash, node from apt where root, TypeScript from npm into .toolchains/. Idempotent; a
## language whose toolchain is missing is reported `skipped` in metrics/eval.json, never scored.
toolchains: $(STAMP)
	$(PY) -m tasks.evaluate.toolchains install

## The harness proven without a model, with wall time per benchmark (every hand-written solution, all FIM lines).
oracle: install toolchains
	$(PY) -m tasks.evaluate.oracle --only multilingual fim_multilingual leetcode --workers 2

## Lay the paper's settings (profiles/paper.yaml) over params.yaml; `git checkout params.yaml` reverts.
profile-paper: install
	$(PY) -m flows.profile apply paper

## make run: start (or reuse) the local Prefect server, make sure DVC and its local remote exist,
## reproduce the whole pipeline with `dvc repro`, push artifacts to the remote, print where to look.
run: install toolchains
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

## The data pipeline (crawl..pack) on the 15 GitHub repositories of ../shared/corpora/github, as a user meets a new
## corpus: gates in warn + `dvc repro pack`, `python -m flows.calibrate`, `dvc repro pack` again (must be green);
## quality removals scored against benchmarks/quality_labels/github.tsv, then the governance figures on the default
## corpus too. benchmarks/github_corpus.json and two sections of RESULTS.md (~15-20 min; exit 1 on a failed step, a
## run that is not green or a missed precision target). Precision alone: `python -m benchmarks.quality_precision --check`
bench-github: install
	$(PY) -m benchmarks.github_corpus

## A nightly refresh that costs the delta: the default corpus, then +5% new sources, against a from-scratch
## run on the same sources (CPU per stage, partition jobs reused, outputs identical): RESULTS.md
bench-incremental: install
	$(PY) -m benchmarks.incremental

## Reproducibility audit: two clean runs in separate directories must give identical dvc.lock hashes.
audit: install
	$(PY) -m flows.audit

## Gates for your own corpus (README, "Gates on your own corpus"): bands of the last accepted run into params.yaml,
## the run snapshotted as the drift baseline, gates enforced. ARGS: warn | enforce | bands | accept, --dry-run, --margin
calibrate: install
	$(PY) -m flows.calibrate $(ARGS)

server: install
	$(PY) -m flows.server start

stop:
	-$(PY) -m flows.server stop
