"""Medians, throughputs, interleaving and the scaling fit (pure functions: no timing asserted)."""
from __future__ import annotations

import math

import pytest

from benchmarks.measure import fit_exponent, ratio, repeat, summarise
from benchmarks.peers_worker import MARK as PEERS_MARK
from benchmarks.worker import MARK


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 1.7])
def test_fit_recovers_a_power_law(exponent):
    xs = [1e6, 2e6, 4e6, 8e6]
    ys = [3.0 * (x / 1e6) ** exponent for x in xs]
    assert fit_exponent(xs, ys) == pytest.approx(exponent, abs=1e-9)


def test_fit_needs_two_positive_points():
    assert fit_exponent([1.0], [2.0]) is None
    assert fit_exponent([1.0, 2.0], [0.0, 2.0]) is None
    assert fit_exponent([2.0, 2.0], [1.0, 3.0]) is None


def test_summarise_takes_medians_and_the_worst_memory():
    runs = [{"wall_s": w, "cpu_s": c, "peak_rss_mb": m, "files": 7} for w, c, m in
            [(3.0, 2.0, 100.0), (1.0, 4.0, 300.0), (2.0, 1.0, 200.0)]]
    s = summarise(runs, n_bytes=8_000_000)
    assert (s["wall_s"], s["cpu_s"], s["peak_rss_mb"], s["files"], s["reps"]) == (2.0, 2.0, 300.0, 7, 3)
    assert s["mb_per_cpu_s"] == pytest.approx(8.0 / 2.0) and s["mb_per_wall_s"] == pytest.approx(8.0 / 2.0)


def test_summarise_reports_the_first_error():
    assert summarise([{"wall_s": 1, "cpu_s": 1}, {"error": "boom"}])["error"] == "boom"
    assert "error" in summarise([])


def test_ratio_guards_missing_and_zero():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None and ratio(1.0, 0.0) is None and ratio(1.0, None) is None


def test_repeat_interleaves_cases_and_stops_a_failing_one():
    order = []

    def case(name, fail=False):
        def run():
            order.append(name)
            return {"error": name} if fail else {"wall_s": 1.0, "cpu_s": 1.0}
        return run

    out = repeat({"a": case("a"), "b": case("b", fail=True), "c": case("c")}, reps=3)
    assert order == ["a", "b", "c", "a", "c", "a", "c"]
    assert [len(out[k]) for k in "abc"] == [3, 1, 3]
    assert math.isclose(summarise(out["a"])["cpu_s"], 1.0)


def test_both_workers_print_the_same_result_marker():
    assert MARK == PEERS_MARK
