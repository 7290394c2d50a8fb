"""The pure parts of the pipeline-scaling benchmark: corpus composition, fits, speedups, the RESULTS.md
section, and the process-tree measurement on a tiny child. No network, no pipeline run, no speed asserted."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from benchmarks import pipeline_scaling as ps
from tasks.common.params import ParamError
from tasks.crawl.sources import spec_key


def _run(scale: int, workers: int, time_exp: float = 1.0, mem_exp: float = 0.5, speed: float = 1.0) -> dict:
    """A synthetic run record: stage i costs (i+1) s per 10 MB^time_exp, divided by `speed`."""
    stages, prev = {}, None
    for i, name in enumerate(ps.DATA_STAGES):
        in_bytes = None if name == "crawl" else 50_000_000 * scale
        x = in_bytes or 50_000_000 * scale
        cost = (i + 1) * (x / 1e7) ** time_exp
        stages[name] = {"wall_s": cost / speed, "cpu_s": cost * (1.1 if workers > 1 else 1.0),
                        "peak_rss_mib": 100.0 * (x / 1e7) ** mem_exp, "in_bytes": in_bytes or prev,
                        "out_bytes": x, "others_cpu_s": 0.5, "flow_s": cost * 0.8}
        prev = x
    vals = stages.values()
    return {"scale": scale, "workers": workers, "sources": 78 * scale, "stages": stages,
            "corpus": {"bytes": 57_000_000 * scale, "text_bytes": 50_000_000 * scale, "repos": 78 * scale},
            "wall_s": sum(s["wall_s"] for s in vals), "cpu_s": sum(s["cpu_s"] for s in vals),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in vals), "loadavg_start": [1.0, 1.0, 1.0],
            "loadavg_end": [2.0, 1.5, 1.0], "crawl_warm": True}


def _results() -> dict:
    runs = {ps.run_key(s, w): _run(s, w, speed=1.6 if w == 2 else 1.0) for s, w in [(1, 1), (1, 2), (2, 2), (4, 2)]}
    return ps.finish({"runs": runs, "machine": {"cpus_usable": 2, "git_commit": "abc"}, "finished_at": "now",
                      "seconds": 600.0, "skipped": {"4x-1w": "over budget"}})


def test_corpora_nest_and_hold_no_source_twice():
    default, parts = ps.default_specs(), ps.load_parts()
    corpora = {k: [spec_key(s) for s in ps.corpus_specs(k, default, parts)] for k in ps.SCALES}
    assert corpora[1] == [spec_key(s) for s in default]
    assert corpora[2][:len(corpora[1])] == corpora[1] and corpora[4][:len(corpora[2])] == corpora[2]
    assert len(corpora[1]) < len(corpora[2]) < len(corpora[4])
    assert all(len(set(c)) == len(c) for c in corpora.values())
    assert {s["type"] for s in parts["x2"]} == {"pypi", "npm"}
    with pytest.raises(ValueError, match="scale 3"):
        ps.corpus_specs(3, default, parts)
    with pytest.raises(ValueError, match="listed twice"):
        ps.corpus_specs(2, default, {"x2": [default[0]], "x4": []})


def test_the_extra_manifest_is_validated(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("x2: []\n")
    with pytest.raises(ParamError, match="x2, x4"):
        ps.load_parts(bad)
    bad.write_text("x2: [{type: pypi, name: six}]\nx4: []\n")
    with pytest.raises(ParamError, match="version"):
        ps.load_parts(bad)


def test_fits_recover_the_power_laws_of_the_two_worker_runs():
    f = _results()["fits"]
    for stage in ps.DATA_STAGES:
        assert f[stage]["scales"] == [1, 2, 4]
        assert f[stage]["cpu_exponent"] == pytest.approx(1.0, abs=1e-3)
        assert f[stage]["memory_exponent"] == pytest.approx(0.5, abs=1e-3)
    assert f["total"]["cpu_exponent"] == pytest.approx(1.0, abs=1e-3)
    sq = ps.fits({ps.run_key(s, 2): _run(s, 2, time_exp=2.0) for s in (1, 2, 4)})
    assert sq["quality"]["cpu_exponent"] == pytest.approx(2.0, abs=1e-3)


def test_linear_fit_splits_fixed_and_per_byte_cost():
    a, b = ps.linear_fit([1e8, 2e8, 4e8], [15.0 + 10.0, 15.0 + 20.0, 15.0 + 40.0])
    assert (a, b * 1e8) == (pytest.approx(15.0), pytest.approx(10.0))
    assert ps.linear_fit([1e8], [1.0]) is None
    f = ps.fits({ps.run_key(s, 2): _run(s, 2) for s in (1, 2, 4)})
    assert f["quality"]["cpu_fixed_s"] == pytest.approx(0.0, abs=1e-6)


def test_speedups_compare_one_and_two_workers_on_the_same_corpus():
    sp = _results()["speedups"]
    assert list(sp) == ["1"]  # 4x has no 1-worker run here
    assert sp["1"]["pack"]["speedup"] == pytest.approx(1.6, rel=1e-3)
    assert sp["1"]["total"]["cpu_ratio"] == pytest.approx(1.1, rel=1e-3)


def test_section_renders_every_stage_and_the_fits():
    md = ps.section_markdown(_results())
    assert md.startswith(ps.HEADING + "\n")
    for stage in (*ps.DATA_STAGES, "total"):
        assert f"| {stage} | " in md
    assert "| 1x-2w | 78 | 57 (50) | 78 |" in md and "| 4x-2w | 312 |" in md
    assert "1.00 | " in md and "0.50 |" in md  # exponents
    assert "1.60x" in md  # speedup
    assert "Not measured: 4x-1w (over budget)." in md
    assert "exponent 1.00" in md  # the generated summary sentences
    assert "flow exponent | CPU fixed s | CPU s per 100 MB |" in md
    assert "| pack | 28.0 | 56.0 | 112.0 | 1.00 | 0.0 | 77.0 |" in md  # flow 0.8 x 7 s per 10 MB; CPU 1.1 x 7 s


def test_replace_section_appends_then_replaces_in_place():
    base = "# Benchmark results\n\n## Scaling\n\ntable\n"
    once = ps.replace_section(base, ps.HEADING + "\n\nold\n")
    assert once == base + "\n" + ps.HEADING + "\n\nold\n"
    twice = ps.replace_section(once + "\n## Peers\n\np\n", ps.HEADING + "\n\nnew\n")
    assert "old" not in twice and twice.count(ps.HEADING) == 1
    assert twice.index("## Scaling") < twice.index("new") < twice.index("## Peers")
    assert ps.replace_section(twice, ps.HEADING + "\n\nnew\n") == twice


def test_bench_keeps_the_section_only_when_its_results_exist(tmp_path):
    results_json = tmp_path / "results.json"
    assert ps.with_section("# B\n", results_json) == "# B\n"
    (tmp_path / Path(ps.RESULTS_JSON).name).write_text(json.dumps(_results()))
    assert ps.HEADING in ps.with_section("# B\n", results_json)


def test_run_params_set_workers_corpus_caches_and_wide_gates(tmp_path):
    p = ps.run_params(1, tmp_path / "m.yaml", "/c/crawl", "/c/quality")
    assert p["runtime"] == {"workers": 1} and p["pack"] == {"workers": 1}
    assert p["crawl"] == {"manifest": str(tmp_path / "m.yaml"), "cache_dir": "/c/crawl"}
    assert p["quality"]["decontam"]["cache_dir"] == "/c/quality"
    assert p["filter"]["gate"]["pass_rate_bytes"] == {"min": 0.0, "max": 1.0}
    assert p["dedup"]["gate"]["dropped_share"] == [0.0, 1.0]


def test_parse_runs_and_estimates():
    assert ps.parse_runs(["1x2", "4X1"]) == [(1, 2), (4, 1)]
    for bad in ("3x2", "4", "4x0"):
        with pytest.raises(SystemExit):
            ps.parse_runs([bad])
    runs = {"4x-2w": {"scale": 4, "workers": 2, "wall_s": 100.0}}
    assert ps.estimate_s(4, 1, runs) == 200.0  # no 1-vs-2 pair yet: the worker ratio
    runs.update({"1x-1w": {"scale": 1, "workers": 1, "wall_s": 30.0}, "1x-2w": {"scale": 1, "workers": 2, "wall_s": 20.0}})
    assert ps.estimate_s(4, 1, runs) == pytest.approx(150.0)  # the ratio seen at 1x
    assert ps.estimate_s(2, 2, runs) == pytest.approx(50.0)  # the 4x run scaled down
    assert ps.estimate_s(1, 2, {}) is None


def test_measure_process_sees_a_grandchild_memory_and_cpu(tmp_path):
    child = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
             "'import time; b = bytearray(80 << 20); t = time.time()\\nwhile time.time() - t < 0.8: pass'])")
    m = ps.measure_process([sys.executable, "-c", child], cwd=tmp_path, env=None, log_path=tmp_path / "log",
                           timeout_s=30)
    assert m["returncode"] == 0 and not m["timed_out"]
    assert m["peak_rss_mib"] >= 80 and m["max_process_rss_mib"] >= 80
    assert m["peak_processes"] >= 2
    assert 0.5 <= m["cpu_s"] <= m["wall_s"] + 0.5
