"""The harness end to end on a tiny corpus, one repetition: every row produces consistent figures and
the two result files. Nothing here asserts a speed: timings on a shared machine are not test results."""
from __future__ import annotations

import json
from pathlib import Path

import bench_corpus as bc
import pytest
import yaml

from benchmarks import peers
from benchmarks.config import config_from_params
from benchmarks.report import render
from benchmarks.rows import Context, dvc_repro_row
from benchmarks.run import run

ROOT = Path(__file__).resolve().parents[2]
REL = 1e-3  # results.json rounds to 4 significant digits


def _argv(tmp: Path, *extra: str) -> list[str]:
    return ["--raw", str(tmp / "raw"), "--work-dir", str(tmp / "work"), "--results-json", str(tmp / "results.json"),
            "--results-md", str(tmp / "RESULTS.md"), "--reps", "1", "--no-profile", "--no-dvc",
            "--no-peers-install", *extra]


@pytest.fixture(scope="module")
def data_rows(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    bc.write_raw(tmp / "raw")
    results = run(_argv(tmp, "--scales", "1", "2", "--no-peers", "--rows", "filter", "dedup_signatures",
                        "dedup_accuracy", "decontamination"), root=ROOT)
    return tmp, results


def test_result_files_are_written_and_agree(data_rows):
    tmp, results = data_rows
    assert json.loads((tmp / "results.json").read_text()) == results
    md = (tmp / "RESULTS.md").read_text()
    for title in ("| filter |", "| dedup signatures |", "| dedup accuracy |", "| decontamination |", "## Scaling"):
        assert title in md
    assert results["machine"]["cpus_usable"] >= 1 and results["corpus"]["files_bytes"] == bc.content_bytes()


def test_filter_ratio_is_ours_over_read_decode_on_the_same_bytes(data_rows):
    _, results = data_rows
    row = results["rows"]["filter"]
    assert row["status"] == "measured", row.get("reason")
    assert row["baseline"]["bytes"] == row["ours"]["bytes"] == bc.content_bytes()
    f = row["figures"]
    assert f["ratio_cpu"] == pytest.approx(f["ours_mb_s"] / f["baseline_mb_s"], rel=REL)
    assert row["pass"] == (f["ratio_cpu"] >= 0.75)
    assert row["ours"]["files"] == len(bc.rows()) and 0 < row["ours"]["kept"] < row["ours"]["files"]


def test_dedup_rows(data_rows):
    _, results = data_rows
    sig = results["rows"]["dedup_signatures"]
    assert sig["ours"]["docs"] == len(bc.FILES) and sig["ours"]["num_perm"] == 256
    assert sig["status"] == "not measured" and "peers" in sig["reason"]  # --no-peers: ours only, and why
    acc = results["rows"]["dedup_accuracy"]
    assert acc["status"] == "measured", acc.get("reason")
    assert acc["generated"]["pairs_true"] > 0
    # alpha and alpha-copy keep the same files after filtering: the one true pair of the corpus
    assert acc["default_corpus"]["pairs_true"] == 1
    worst = min(acc[c][m] for c in ("generated", "default_corpus") for m in ("precision", "recall"))
    assert acc["pass"] == (worst >= 0.95)


PEERS_VENV = ROOT / ".venv-peers"


@pytest.mark.skipif(not peers.usable(PEERS_VENV), reason="no peers venv (.venv-peers): peers are optional")
@pytest.mark.parametrize("case, args", [
    ("datatrove_signatures", {}), ("rensa_signatures", {"seed": 42}), ("rensa_signatures", {"seed": 42,
                                                                                             "words_only": True}),
])
def test_peers_sign_the_same_texts(data_rows, case, args):
    from benchmarks.measure import run_case

    _, results = data_rows
    got = run_case(case, {"texts_path": results["corpus"]["texts"], "shingle_size": 5, "num_perm": 256, **args},
                   root=ROOT, python=str(peers.python_of(PEERS_VENV)), script=peers.WORKER)
    assert "error" not in got, got.get("error")
    assert got["docs"] == len(bc.FILES) and got["shingles"] > 0 and got["cpu_s"] >= 0


def test_decontamination_time_ratio(data_rows):
    _, results = data_rows
    row = results["rows"]["decontamination"]
    assert row["status"] == "measured", row.get("reason")
    assert row["figures"]["time_ratio_cpu"] == pytest.approx(row["ours"]["cpu_s"] / row["baseline"]["cpu_s"], rel=REL)
    assert row["ours"]["files"] == row["baseline"]["files"] > 0


def test_scaling_points_double_the_bytes_and_fit_an_exponent(data_rows):
    _, results = data_rows
    assert set(results["scaling"]) == {"filter", "dedup_signatures", "decontamination"}
    for stage, s in results["scaling"].items():
        points = {p["scale"]: p for p in s["points"]}
        assert set(points) == {1, 2}, stage
        assert points[2]["bytes"] == 2 * points[1]["bytes"]
        assert isinstance(s["time_exponent"], float) and isinstance(s["memory_exponent"], float)


def test_pack_pretrain_evaluate_rows(tmp_path):
    bc.write_raw(tmp_path / "raw")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["tokenizer"] = {"vocab_size": 300, "min_frequency": 1, "heldout_fraction": 0.0}
    params["pack"] = {**params.get("pack", {}), "seq_len": 64, "cooldown": {"enabled": False}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    results = run(_argv(tmp_path, "--params", str(tmp_path / "params.yaml"), "--scales", "1", "--rows", "pack",
                        "pretrain", "evaluate", "--pretrain-model", "tiny", "--pretrain-steps", "1",
                        "--pretrain-batch-size", "2", "--pretrain-seq-len", "32", "--no-bf16",
                        "--evaluate-limit", "2"), root=ROOT)
    pack = results["rows"]["pack"]
    assert pack["status"] == "measured", pack.get("reason")
    assert pack["figures"]["ratio_cpu"] == pytest.approx(
        pack["figures"]["ours_mb_s"] / pack["figures"]["baseline_mb_s"], rel=REL)
    assert pack["baseline"]["tokens"] > 0 and pack["figures"]["peak_rss_mib"] > 0

    pre = results["rows"]["pretrain"]
    assert pre["status"] == "measured", pre.get("reason")
    fp32 = pre["runs"]["fp32"]
    assert (fp32["model"], fp32["seq_len"], fp32["batch_size"]) == ("tiny", 32, 2) and "bf16" not in pre["runs"]
    assert fp32["mfu"] == pytest.approx(fp32["achieved_flops"] / fp32["peak_flops"], rel=REL)

    ev = results["rows"]["evaluate"]
    assert ev["status"] == "measured", ev.get("reason")
    assert ev["samples"] == 2 and ev["figures"]["same_verdicts"] is True
    assert ev["figures"]["speedup"] == pytest.approx(ev["figures"]["human_eval_s"] / ev["figures"]["ours_s"], rel=REL)


def test_dvc_row_never_runs_repro_without_an_up_to_date_lock(tmp_path):
    ctx = Context(cfg=config_from_params({}), params={}, root=tmp_path, corpus={})
    assert dvc_repro_row(ctx)["status"] == "skipped"
    assert "dvc.lock" in dvc_repro_row(ctx)["reason"]
    off = Context(cfg=config_from_params({"dvc": False}), params={}, root=tmp_path, corpus={})
    assert "disabled" in dvc_repro_row(off)["reason"]


def test_report_explains_a_miss_and_lists_what_was_not_measured(data_rows):
    _, results = data_rows
    fake = json.loads(json.dumps(results))
    fake["rows"]["filter"].update({"pass": False, "profile": {"case": "filter_end_to_end",
                                                              "top": ["ncalls tottime", "1 0.1"]}})
    fake["rows"]["decontamination"] = {"name": "decontamination", "status": "not measured", "reason": "no index",
                                       "target": "t", "pass": None, "figures": {}}
    md = render(fake)
    assert "## Missed targets" in md and "cProfile of `filter_end_to_end`" in md
    assert "- **decontamination** (not measured): no index" in md


def test_render_only_rewrites_the_markdown_from_results_json(data_rows):
    tmp, _ = data_rows
    md = tmp / "RESULTS.md"
    original = md.read_text()
    md.write_text("stale")
    run(_argv(tmp, "--render-only"), root=ROOT)
    assert md.read_text() == original


def test_update_merges_a_remeasured_row_and_keeps_the_others(data_rows, tmp_path):
    from benchmarks.run import merge

    _, results = data_rows
    new = {"finished_at": "later", "rows": {"filter": {"name": "filter", "status": "error", "reason": "x"}},
           "summary": {"filter": {"status": "error"}}, "targets": {}, "scaling": {}}
    merged = merge(results, new)
    assert merged["rows"]["filter"]["status"] == "error" and merged["updated"] == {"filter": "later"}
    assert merged["rows"]["decontamination"] == results["rows"]["decontamination"]
    assert merged["scaling"] == results["scaling"]
    assert "re-measured later" in render(merged)
