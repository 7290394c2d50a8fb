"""The pure parts of the pipeline-scaling benchmark: corpus choice and composition, fits and verdicts, cluster
hash checks, kill/rerun bookkeeping, the RESULTS.md section, and the process-tree measurement on tiny children.
No network, no pipeline run, no speed asserted."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import pipeline_scaling as ps
from tasks.common.params import ParamError
from tasks.crawl.sources import spec_key


def _run(scale: int, workers: int, time_exp: float = 1.0, mem_exp: float = 0.5, speed: float = 1.0,
         runner: str = "process", proc_exp: float = 0.0) -> dict:
    """A synthetic run record: stage i costs (i+1) s per 10 MB^time_exp, divided by `speed`; its largest
    process grows as (bytes)^proc_exp."""
    stages, prev = {}, None
    for i, name in enumerate(ps.DATA_STAGES):
        in_bytes = None if name == "crawl" else 50_000_000 * scale
        x = in_bytes or 50_000_000 * scale
        cost = (i + 1) * (x / 1e7) ** time_exp
        stages[name] = {"wall_s": cost / speed, "cpu_s": cost * (1.1 if workers > 1 else 1.0),
                        "peak_rss_mib": 100.0 * (x / 1e7) ** mem_exp, "in_bytes": in_bytes or prev,
                        "max_process_rss_mib": 50.0 * (x / 5e7) ** proc_exp, "max_process": f"flows.{name}",
                        "out_bytes": x, "others_cpu_s": 0.5, "flow_s": cost * 0.8}
        prev = x
    vals = stages.values()
    return {"scale": scale, "workers": workers, "runner": runner, "sources": 78 * scale, "stages": stages,
            "corpus": {"bytes": 57_000_000 * scale, "text_bytes": 50_000_000 * scale, "repos": 78 * scale},
            "wall_s": sum(s["wall_s"] for s in vals), "cpu_s": sum(s["cpu_s"] for s in vals),
            "peak_rss_mib": max(s["peak_rss_mib"] for s in vals),
            "max_process_rss_mib": max(s["max_process_rss_mib"] for s in vals), "loadavg_start": [1.0, 1.0, 1.0],
            "loadavg_end": [2.0, 1.5, 1.0], "crawl_warm": True,
            "lock_hashes": {s: {f"data/{s}": "abc.dir"} for s in ps.DATA_STAGES}}


def _results() -> dict:
    runs = {ps.run_key(s, 2): _run(s, 2) for s in (1, 4, 20)}
    runs["20x-dask"] = {**_run(20, 2, runner="dask"), "cluster": {"task_runner": "dask", "workers": 2,
                                                                  "memory_limit": "1GiB"}}
    ray = _run(20, 2, runner="ray")
    ray["lock_hashes"] = {**ray["lock_hashes"], "pack": {"data/packed": "other.dir"}}
    runs["20x-ray"] = {**ray, "cluster": {"task_runner": "ray", "num_cpus": 2}}
    runs["20x-2w"]["kills"] = {"dedup": {
        "killed_after_s": 12.5, "committed_at_kill": {"dedup-signatures": 8, "dedup-verify": 4},
        "steps": {"dedup-signatures": {"partitions": 8, "reused": 8, "computed": 0},
                  "dedup-verify": {"partitions": 8, "reused": 4, "computed": 4}},
        "only_unfinished_redone": True, "rerun": {"wall_s": 20.0, "cpu_s": 30.0}, "hashes_identical": True}}
    return ps.finish({"runs": runs, "machine": {"cpus_usable": 2, "git_commit": "abc"}, "finished_at": "now",
                      "seconds": 600.0, "skipped": {"20x-ray2": "over budget"}, "settings": {"partition_mb": 16},
                      "corpora": {"1": {"sources": 78, "npm_sources": 31, "unpacked_bytes": 57 << 20,
                                        "text_bytes": 50 << 20, "min": 6000, "median": 400_000, "p90": 1_900_000,
                                        "max": 3_480_000, "largest": "pypi:regex@2024.4.28"}}})


def test_corpora_nest_and_hold_no_source_twice():
    default, parts = ps.default_specs(), ps.load_parts()
    corpora = {k: [spec_key(s) for s in ps.corpus_specs(k, default, parts)] for k in ps.SCALES}
    assert corpora[1] == [spec_key(s) for s in default]
    assert corpora[4][:len(corpora[1])] == corpora[1] and corpora[20][:len(corpora[4])] == corpora[4]
    assert len(corpora[1]) < len(corpora[4]) < len(corpora[20])
    assert all(len(set(c)) == len(c) for c in corpora.values())
    assert {s["type"] for s in parts["x20"]} == {"pypi", "npm"}
    with pytest.raises(ValueError, match="scale 3"):
        ps.corpus_specs(3, default, parts)
    with pytest.raises(ValueError, match="listed twice"):
        ps.corpus_specs(4, default, {"x4": [default[0]], "x20": []})


def test_the_extra_manifest_is_validated(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("x4: []\n")
    with pytest.raises(ParamError, match="x20, x4"):
        ps.load_parts(bad)
    bad.write_text("x4: [{type: pypi, name: six}]\nx20: []\n")
    with pytest.raises(ParamError, match="version"):
        ps.load_parts(bad)


def _size(name: str, unpacked: int, error: str | None = None, kind: str = "pypi") -> dict:
    spec = {"type": kind, "name": name, "version": "1.0"}
    return {"source": f"{kind}:{name}@1.0", "spec": spec, "error": error, "files": 3, "unpacked_bytes": unpacked,
            "text_bytes": unpacked // 2, "too_large": 0, "downloaded_bytes": 0}


def test_choose_fills_the_parts_in_order_and_leaves_out_outliers_and_failures(tmp_path):
    default = [_size("a", 100), _size("b", 300)]  # 400 bytes; the cap is 300
    sizes = {"big": _size("big", 301), "broken": _size("broken", 10, "no sdist"), "empty": _size("empty", 0),
             **{f"p{i}": _size(f"p{i}", 200, kind="npm" if i % 3 == 0 else "pypi") for i in range(60)}}
    cands = [sizes[n]["spec"] for n in ("big", "broken", "empty", *(f"p{i}" for i in range(60)))]
    batches = []

    def size_batch(specs):
        batches.append(len(specs))
        return [sizes[s["name"]] for s in specs]

    parts, info = ps.choose_parts(default, cands, size_batch, text_floor=0, batch=8)
    assert info["skipped"] == {"error": 1, "over_cap": 1, "empty": 1} and info["reached"]
    assert [r["spec"]["name"] for r in parts["x4"]] == [f"p{i}" for i in range(6)]  # 400 + 6 x 200 >= 4 x 400
    assert len(parts["x4"]) + len(parts["x20"]) == 38  # 400 + 38 x 200 >= 20 x 400
    assert sum(batches) < len(cands)  # stops sizing once reached
    text = ps.manifest_text(parts, info, "header line")
    path = tmp_path / "m.yaml"
    path.write_text(text)
    loaded = ps.load_parts(path)
    assert [s["name"] for s in loaded["x20"]] == [r["spec"]["name"] for r in parts["x20"]]
    assert text.startswith("# header line\n") and "unpacked 0 KiB, 3 files" in text
    summary = ps.size_summary(parts["x4"] + parts["x20"])
    assert summary["sources"] == 38 and summary["max"] == 200 and summary["npm_sources"] == 13


def test_fits_recover_the_power_laws_and_the_verdicts():
    f = _results()["fits"]
    for stage in ps.DATA_STAGES:
        assert f[stage]["scales"] == [1, 4, 20]
        assert f[stage]["cpu_exponent"] == pytest.approx(1.0, abs=1e-3)
        assert f[stage]["memory_exponent"] == pytest.approx(0.5, abs=1e-3)
        assert f[stage]["peak_ratio"] == pytest.approx(1.0) and f[stage]["peak_ok"] and f[stage]["time_ok"]
    assert f["total"]["cpu_exponent"] == pytest.approx(1.0, abs=1e-3)
    sq = ps.fits({ps.run_key(s, 2): _run(s, 2, time_exp=2.0, proc_exp=0.1) for s in (1, 4, 20)})
    assert sq["quality"]["cpu_exponent"] == pytest.approx(2.0, abs=1e-3) and sq["quality"]["time_ok"] is False
    assert sq["quality"]["peak_ratio"] == pytest.approx(20 ** 0.1, rel=1e-3) and sq["quality"]["peak_ok"] is False
    # cluster runs are not fitted
    assert ps.fits({"20x-dask": _run(20, 2, runner="dask")})["pack"]["scales"] == []


def test_linear_fit_splits_fixed_and_per_byte_cost():
    a, b = ps.linear_fit([1e8, 2e8, 4e8], [15.0 + 10.0, 15.0 + 20.0, 15.0 + 40.0])
    assert (a, b * 1e8) == (pytest.approx(15.0), pytest.approx(10.0))
    assert ps.linear_fit([1e8], [1.0]) is None
    f = ps.fits({ps.run_key(s, 2): _run(s, 2) for s in (1, 4, 20)})
    assert f["quality"]["cpu_fixed_s"] == pytest.approx(0.0, abs=1e-6)


def test_cluster_runs_are_checked_against_the_local_run():
    checks = _results()["cluster_checks"]
    assert checks["20x-dask"] == {"reference": "20x-2w", "stages_identical": list(ps.DATA_STAGES),
                                  "stages_different": [], "identical": True}
    assert checks["20x-ray"]["identical"] is False and checks["20x-ray"]["stages_different"] == ["pack"]


def test_section_renders_every_stage_the_verdicts_clusters_and_kills():
    md = ps.section_markdown(_results())
    assert md.startswith(ps.HEADING + "\n")
    for stage in (*ps.DATA_STAGES, "total"):
        assert f"| {stage} | " in md
    assert "| 1x | 78 (31) | 57 | 50 | 57 (50) | 78 | 6 / 391 / 1855 / 3398 | pypi:regex@2024.4.28 |" in md
    assert "| 20x-2w | " in md and "| 20x-dask | " in md
    assert "| pack | 40.0 / 44.0 | 160.0 / 176.0 | 800.0 / 880.0 | 1.00 | 1.00 | yes | yes |" in md
    assert "| pack | 50 / 224 | 50 / 447 | 50 / 1000 | flows.pack | 1.00 | yes | 1.00 | 0.50 |" in md
    assert "--memory-limit 1GiB" in md and "a Ray head with 2 CPUs" in md
    assert "| dvc.lock outs identical to the local run | (reference) | yes, every data stage | **no**: pack |" in md
    assert "dedup-verify: 8 / 4 / 4 | yes | 20.0 / 30.0" in md
    assert "Not measured: 20x-ray2 (over budget)." in md
    assert "Time target (CPU exponent <= 1.1): met by every stage." in md
    assert "partition_mb: 16" in md


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
    assert p["runtime"] == {"workers": 1, "min_partitions": 1} and p["pack"] == {"workers": 1}
    assert p["crawl"] == {"manifest": str(tmp_path / "m.yaml"), "cache_dir": "/c/crawl"}
    assert p["quality"]["decontam"]["cache_dir"] == "/c/quality"
    assert p["filter"]["gate"]["pass_rate_bytes"] == {"min": 0.0, "max": 1.0}
    assert p["dedup"]["gate"]["dropped_share"] == [0.0, 1.0]
    assert "tokenizer" not in p  # the defaults' model sizes, not the tests'


def test_parse_runs_and_estimates():
    assert ps.parse_runs(["1x2", "20X1", "20xdask", "20xray"]) == [(1, 2, "process"), (20, 1, "process"),
                                                                    (20, 2, "dask"), (20, 2, "ray")]
    for bad in ("3x2", "4", "4x0", "4xspark"):
        with pytest.raises(SystemExit):
            ps.parse_runs([bad])
    assert ps.run_key(20, 2, "dask") == "20x-dask" and ps.run_key(4, 2) == "4x-2w"
    runs = {"4x-2w": {"scale": 4, "workers": 2, "wall_s": 100.0}}
    assert ps.estimate_s(4, 1, runs) == 200.0  # no 1-vs-2 pair yet: the worker ratio
    assert ps.estimate_s(20, 2, runs) == pytest.approx(500.0)  # the 4x run scaled up
    assert ps.estimate_s(1, 2, {}) is None


def test_process_labels_name_the_flow_the_pool_workers_and_cluster_processes():
    py = "/venv/bin/python"
    assert ps.process_label([py, "-m", "flows.dedup"]) == "flows.dedup"
    assert ps.process_label([py, "-m", "dvc", "repro", "--single-item", "dedup"]) == "dvc repro"
    assert ps.process_label([py, "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)",
                             "--multiprocessing-fork"]) == "worker (multiprocessing spawn)"
    assert ps.process_label([py, "-m", "distributed.cli.dask_worker", "--nthreads", "1"]) == "dask worker"
    assert ps.process_label(["ray::partition", ""]) == "ray::partition"
    assert ps.process_label(["/usr/bin/git", "archive"]) == "git"
    assert ps.process_label([], "zombie") == "zombie"


def test_step_counts_and_committed_entries(tmp_path):
    timings = {"seconds": 3.0, "signatures_partitions": 8, "signatures_reused": 8, "signatures_computed": 0,
               "verify_partitions": 8, "verify_reused": 3, "verify_computed": 5}
    assert ps.step_counts("dedup", timings) == {"dedup-signatures": {"partitions": 8, "reused": 8, "computed": 0},
                                                "dedup-verify": {"partitions": 8, "reused": 3, "computed": 5}}
    assert ps.step_counts("pack", {"partitions": 4, "reused": 1, "computed": 3, "encode_seconds": 2.0}) == {
        "pack-encode": {"partitions": 4, "reused": 1, "computed": 3}}
    cache = tmp_path / "partitions"
    for ns, n in (("dedup-verify", 3), ("dedup-apply", 1), ("filter", 2)):
        for i in range(n):
            (cache / ns / f"k{i}").mkdir(parents=True)
            (cache / ns / f"k{i}" / "summary.json").write_text("{}")
    (cache / "dedup-verify" / "k9.building-x").mkdir()
    assert ps.committed(cache / "dedup-verify") == 3 and ps.committed(cache / "nothing") == 0
    assert [d.name for d in ps.namespaces(cache, "dedup")] == ["dedup-apply", "dedup-verify"]


def test_measure_process_sees_a_grandchild_memory_and_cpu(tmp_path):
    child = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
             "'import time; b = bytearray(80 << 20); t = time.time()\\nwhile time.time() - t < 0.8: pass'])")
    m = ps.measure_process([sys.executable, "-c", child], cwd=tmp_path, env=None, log_path=tmp_path / "log",
                           timeout_s=30)
    assert m["returncode"] == 0 and not m["timed_out"]
    assert m["peak_rss_mib"] >= 80 and m["max_process_rss_mib"] >= 80 and m["maxrss_wait4_mib"] >= 80
    assert m["max_process"] == Path(sys.executable).name  # python -c: the program's basename
    assert m["peak_processes"] >= 2
    assert 0.2 <= m["cpu_s"] <= m["wall_s"] + 0.5  # a 0.8 s busy loop, on a shared machine


def test_measure_process_samples_the_cluster_outside_the_tree(tmp_path):
    """A Dask / Ray worker is not a descendant of the stage: sampled through `cluster`, its memory and CPU count."""
    worker = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(120 << 20); t = time.time()\n"
                               "while time.time() - t < 4: pass"])
    try:
        time.sleep(0.3)
        m = ps.measure_process([sys.executable, "-c", "import time; time.sleep(1.2)"], cwd=tmp_path, env=None,
                               log_path=tmp_path / "log", timeout_s=30, cluster=lambda: [worker.pid])
    finally:
        worker.wait(timeout=30)
    assert m["cluster_max_process_rss_mib"] >= 120 and m["max_process_rss_mib"] >= 120
    assert m["peak_rss_mib"] >= m["cluster_peak_rss_mib"] >= 120
    assert m["cluster_cpu_s"] > 0  # a busy loop: how much CPU it gets depends on the machine's load
    assert m["cpu_s"] == pytest.approx(m["tree_cpu_s"] + m["cluster_cpu_s"])


def test_cluster_events_count_the_nannies_memory_restarts(tmp_path):
    (tmp_path / "worker-0.log").write_text("x\n2026 - distributed.nanny.memory - WARNING - Worker tcp://a (pid=1) "
                                           "exceeded 95% memory budget. Restarting...\nINFO done\n")
    (tmp_path / "scheduler.log").write_text("nothing\n")
    ev = ps.cluster_events(tmp_path)
    assert ev["memory_restarts"] == 1 and ev["memory_restart_lines"][0].startswith("worker-0: 2026")
    assert ps.cluster_events(tmp_path / "missing") == {"memory_restarts": 0, "memory_restart_lines": []}


def test_a_cluster_run_from_a_stage_reuses_the_kept_local_copy(tmp_path):
    import argparse

    args = argparse.Namespace(from_stage="filter")
    with pytest.raises(SystemExit, match="--keep"):
        ps.reuse_of(args, tmp_path, 20, "dask")
    project = tmp_path / "20x-2w" / "project"
    project.mkdir(parents=True)
    (project / "dvc.lock").write_text("stages: {}\n")
    assert ps.reuse_of(args, tmp_path, 20, "dask") == {"reuse": project, "from_stage": "filter"}
    assert ps.reuse_of(args, tmp_path, 20, "process") == {}
    assert ps.reuse_of(argparse.Namespace(from_stage=None), tmp_path, 20, "ray") == {}


def test_a_cluster_worker_that_exits_mid_stage_keeps_its_cpu(tmp_path):
    """Ray ends idle workers during a stage: their CPU, last sampled, still counts."""
    worker = subprocess.Popen([sys.executable, "-c", "import time; t = time.time()\nwhile time.time() - t < 0.8: pass"])
    try:
        m = ps.measure_process([sys.executable, "-c", "import time; time.sleep(2.0)"], cwd=tmp_path, env=None,
                               log_path=tmp_path / "log", timeout_s=30, cluster=lambda: [worker.pid])
    finally:
        worker.wait(timeout=30)
    assert m["cluster_cpu_accounting"] == "sampled" and m["cluster_processes_seen"] == 1
    assert m["cluster_cpu_s"] > 0


def test_terabyte_cost_scales_the_largest_local_run_and_fills_the_docs_block():
    results = ps.finish(_results())
    cost = results["terabyte"]
    assert cost["from_run"] == "20x-2w"
    rows = {r["stage"]: r for r in cost["rows"]}
    assert list(rows) == list(ps.DATA_STAGES)
    # filter (stage 2 of the synthetic runs): 2 s per 10 MB of input, 1.1x on 2 workers; 1 TB crawled = 1e12
    # bytes of input at an input share of 1e9 / 1.14e9
    share = 1_000_000_000 / 1_140_000_000
    assert rows["filter"]["core_hours"] == pytest.approx(2.2e-7 * share * 1e12 / 3600, rel=0.01)
    assert rows["tokenizer"]["core_hours"] == pytest.approx(results["runs"]["20x-2w"]["stages"]["tokenizer"]["cpu_s"]
                                                            / 3600, abs=0.1)  # a bounded sample: no growth
    assert cost["hours_on"]["8"] == pytest.approx(cost["core_hours"] / 128, abs=0.01)
    doc = f"# Scaling\n\nprose\n\n{ps.COST_BEGIN}\nold\n{ps.COST_END}\n\nmore prose\n"
    new = ps.with_cost(doc, cost)
    assert "old" not in new and "| filter |" in new and new.endswith("more prose\n") and "prose" in new
    assert ps.with_cost(new, cost) == new
    assert ps.with_cost("no markers", cost) == "no markers"
