"""Drift expectations with Great Expectations: a run like the accepted one passes, a drifted one fails on the
values that moved too far, and the Data Docs show one check per value."""
from __future__ import annotations

from pathlib import Path

import pytest

from expectations import GateFailed, enforce, run_gate, suites
from expectations.baseline import drift_rows, observe
from tests.expectations.gate_testkit import stage_metrics

ALLOWED = {"pass_rate_bytes": 0.05, "pass_rate_files": 0.05, "language_share": 0.05}
ACCEPTED = observe("filter", stage_metrics()["filter"])


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("reports"))


def drift_gate(reports: str, metrics: dict, mode: str = "enforce"):
    check = drift_rows(observe("filter", metrics), ACCEPTED, ALLOWED)
    table = check.table()
    return run_gate("filter-drift", table, suites.drift(table), reports, mode=mode, notes=check.notes)


def test_accepted_run_passes(reports):
    result = enforce(drift_gate(reports, stage_metrics()["filter"]))
    assert result.success and {r["condition"] for r in result.results if r["condition"]} == {
        "metric == 'pass_rate_bytes'", "metric == 'pass_rate_files'", "metric == 'language_share[Go]'",
        "metric == 'language_share[Python]'", "metric == 'language_share[Shell]'"}
    assert Path(reports, "gx", "expectations", "filter-drift.json").is_file()
    # within the allowed move, both ways and at the bound, and a small new language: still a pass
    near = stage_metrics(shares={"Go": 0.65, "Python": 0.31, "Shell": 0.0, "C++": 0.04}, pass_bytes=0.47,
                         pass_files=0.52)["filter"]
    near["language_share_kept"].pop("Shell")
    assert drift_gate(reports, near).success


def test_drifted_run_fails_on_what_moved(reports):
    drifted = stage_metrics(shares={"Go": 0.58, "Python": 0.30, "Rust": 0.12}, pass_bytes=0.50)["filter"]
    result = drift_gate(reports, drifted)
    assert not result.success
    failed = {r["condition"] for r in result.failures()}
    # Go fell 0.12, Rust appeared with 0.12, the pass rate rose 0.08; Python (+0.02) and Shell (-0.02) did not drift
    assert failed == {"metric == 'language_share[Go]'", "metric == 'language_share[Rust]'",
                      "metric == 'pass_rate_bytes'"}
    with pytest.raises(GateFailed, match="filter-drift"):
        enforce(result)
    warned = drift_gate(reports, drifted, mode="warn")
    assert not warned.success and enforce(warned) is warned and "warn mode" in warned.summary()
