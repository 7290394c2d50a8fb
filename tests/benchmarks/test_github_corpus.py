"""The GitHub-corpus benchmark's tables, rendered from synthetic metrics (no pipeline run)."""
from __future__ import annotations

from benchmarks import github_corpus as gc
from benchmarks.quality_precision import Label, score


def _gov(exact_files: int, emails: int) -> dict:
    near = {"repos_dropped": 1, "files_dropped": 10, "bytes_dropped": 5000, "content_bytes_in": 50_000,
            "metric_files_dropped": 0, "metric_bytes_dropped": 0, "total_files_dropped": 14, "total_bytes_dropped": 6000}
    return {"repos": 15, "exact": {"files_dropped": exact_files, "file_share": 0.05, "bytes_dropped": 900, "byte_share": 0.01},
            "near": {"repo": near, "file": {**near, "repos_dropped": 0, "files_dropped": 12}},
            "redact": {"files_redacted": 3, "files_redacted_share": 0.001, "residual": 0,
                       "by_type": {"KEY": 1, "PASSWORD": 0, "EMAIL": emails, "IP_ADDRESS": 2}},
            "licenses": {"by_category": {"permissive": 15}, "by_expression": {"MIT": 9, "Apache-2.0": 6},
                         "agreement_same": None, "agreement_covers": None, "declared_and_detected": 0},
            "license_policy": {"repos_dropped": 0, "by_license": {}}}


def _results() -> dict:
    decisions = [{"repo": "git/a/b@1", "path": "x.js", "reason": "minified", "size": 100, "detail": ""},
                 {"repo": "git/a/b@1", "path": "y.js", "reason": "minified", "size": 50, "detail": ""},
                 {"repo": "git/a/b@1", "path": "z.py", "reason": "generated", "size": 10, "detail": ""}]
    labels = {("git/a/b", "x.js", "minified"): Label("drop", "min"), ("git/a/b", "y.js", "minified"): Label("keep", "ok")}
    precision = score(decisions, labels, 10_000, ("minified", "generated", "deep_nesting"))
    filt = {"pass_rate_bytes": 0.4123, "pass_rate_files": 0.5, "files_in": 100, "bytes_in": 10_000,
            "drops": {"max_line_length": {"files": 3, "bytes": 2000}}, "language_share_kept": {"Python": 0.6, "Go": 0.4}}
    metrics = {"filter": filt, "order": {"resolution_rate": 0.5, "deps_found": 10, "deps_resolved": 5,
                                         "languages": {"Python": {"files": 4, "deps_found": 10, "deps_resolved": 5,
                                                                  "resolution_rate": 0.5}}},
               "quality": {"files": {"in": 90, "removed": 3, "removed_share": 0.0333},
                           "bytes": {"in": 10_000, "removed_share": 0.016},
                           "mix": {"Python": {"files": 50, "bytes": 750}, "Go": {"files": 10, "bytes": 250}}},
               "dedup": {"threshold": 0.85, "verify": "exact"}}
    step = {"name": "dvc repro pack (enforce)", "command": "dvc repro pack", "returncode": 0, "wall_s": 10.0,
            "cpu_s": 8.0, "peak_rss_mib": 300.0}
    github = {"steps": [step], "default_bands_missed": ["filter-language-mix"], "green": True, "metrics": metrics,
              "precision": {**precision, "labels": "labels.tsv", "failures": ["minified: precision 0.500 < 0.9"]},
              "lodash": {"clustered": False, "est_jaccard": 0.1234, "exact_jaccard": 0.1111, "source": "recomputed"},
              "governance": _gov(7, 4)}
    default = {"steps": [step], "metrics": {"filter": {**filt, "pass_rate_bytes": 0.607, "pass_rate_files": 0.746}},
               "governance": _gov(11, 38),
               "license_agreement": {"sources": 78, "declaring": 77, "compared": 75, "agree": 69, "agreement": 0.92,
                                     "confirmed": 74, "confirmed_share": 0.9867, "no_license_text": [],
                                     "disagreements": [{"repo": "pypi/greenlet@3", "declared": "MIT",
                                                        "from_files": "MIT AND PSF-2.0", "detected": "MIT AND PSF-2.0",
                                                        "confirmed": True}]}}
    return {"finished_at": "now", "machine": {"cpus_usable": 2, "git_commit": "abc"},
            "corpora": {"github": github, "default": default}}


def test_github_section_shows_the_figures_and_flags_unlabelled_removals():
    md = gc.github_section(_results())
    assert "| by bytes | 32.8% | 60.7% | 41.2% |" in md
    assert "| Python | 60.00% | 75.00% |" in md
    assert "| minified | 2 | 150 | 1 | 1 | 0 | 0.50 |" in md
    assert "| generated | 1 | 10 | 0 | 0 | 1 | - |" in md and "deep_nesting" not in md   # no removal: omitted
    assert "Unlabelled removals: **1**" in md and "**missed**" in md
    assert "estimated Jaccard 0.123, exact 0.111; not clustered" in md
    assert "`filter-language-mix`" in md and "**green**" in md


def test_governance_section_compares_both_corpora_and_lists_disagreements():
    md = gc.governance_section(_results())
    assert "| figure | default corpus | GitHub corpus |" in md
    assert "| exact duplicates: files (share) | 11 (5.00%) | 7 (5.00%) |" in md
    assert ("| near-dedup `granularity: file`: repos / files / bytes dropped (share of bytes) | 0 / 12 / 5,000 (10.00%) "
            "| 0 / 12 / 5,000 (10.00%) |") in md
    assert "| secrets/PII found: EMAIL | 38 | 4 |" in md
    assert "Same licences: 69/75 (92.0%)" in md and "74/75 (98.7%)" in md and "| pypi/greenlet@3 | MIT |" in md


def test_sections_replace_in_place_and_status_fails_on_misses():
    results = _results()
    md = gc.replace_sections("# Benchmark results\n\n## Scaling\n\ntable\n", results)
    assert gc.replace_sections(md, results) == md and "## Scaling\n\ntable" in md
    assert md.index(gc.GITHUB_HEADING) < md.index(gc.GOVERNANCE_HEADING)
    assert gc.status(results, check=False) == []
    assert gc.status(results, check=True) == ["github quality precision: minified: precision 0.500 < 0.9"]
    results["corpora"]["github"]["green"] = False
    assert "github: the calibrated run is not green" in gc.status(results, check=False)


def test_near_dedup_drops_count_repositories_dropped_whole():
    """Repo granularity drops lodash-2020 whole: its files and bytes count, the exact copies removed do not."""
    dedup = {"granularity": "repo", "repos_dropped": 1, "files_in": 100, "files_kept": 80,
             "exact": {"files_removed": 5, "bytes_removed": 300}, "near": {"docs": 15, "files_dropped": 0, "bytes_dropped": 0},
             "mix": {"Python": {"files": 80, "bytes": 7000}}}
    metrics = {"dedup": dedup, "order": {"mix": {"Python": {"files": 100, "bytes": 10_000}}}, "redact": {},
               "crawl": {"repos": 15}, "filter": {}}
    near = gc.governance(metrics, None)["near"]["repo"]
    assert (near["files_dropped"], near["bytes_dropped"], near["metric_files_dropped"]) == (15, 2700, 0)
    assert (near["total_files_dropped"], near["total_bytes_dropped"]) == (20, 3000)
