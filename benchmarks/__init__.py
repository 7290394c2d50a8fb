"""Performance harness: each pipeline stage against a baseline measured in the same run on the same data.

    python -m benchmarks.run [--reps 3] [--scales 1 2 4] [--rows filter pack ...]   (or `make bench`)

Writes benchmarks/results.json (machine, corpus, per-row figures, targets, pass/miss, scaling fit)
and benchmarks/RESULTS.md; scratch goes to benchmarks/results/ (git-ignored). Speed is measured
here and never asserted by tests. Modules: config (settings, targets), corpus (inputs and replicas),
cases (what one measurement runs, in a fresh worker process), worker, measure (repetitions, medians,
fit), peers / peers_worker (datatrove and rensa in their own venv), rows (one function per row),
report (RESULTS.md), notes (why a missed target is missed), run (the entry point).
pipeline_scaling (`make bench-scale`): the whole data pipeline on 1x/4x/20x real corpora, 20x on local Dask
and Ray clusters, SIGKILL + rerun of dedup and pack; its own JSON and RESULTS.md section.
github_corpus (`make bench-github`): the data pipeline on the
GitHub corpus as a user calibrates it, quality precision and the governance figures, its own JSON and sections.

Importing this package imports nothing heavy: workers pay only for what their case needs.
"""
