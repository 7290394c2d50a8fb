"""The stages' gate helpers with calibrated params, drift snapshots and the warn mode, against the session's
Prefect server (artifacts, gate events); and the filter flow itself completing in warn mode."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from expectations import GateFailed
from flows import calibrate
from flows.dedup import gate_dedup
from flows.filter import gate_filter
from tasks.dedup.config import config_from_params as dedup_config
from tasks.filter.config import config_from_params as filter_config
from tests.expectations.gate_testkit import ROOT, make_project, stage_metrics


def gate_record(name: str) -> dict:
    return json.loads(Path("reports", "gates", f"{name}.json").read_text())


def params() -> dict:
    return yaml.safe_load(Path("params.yaml").read_text())


def test_calibrated_run_passes_and_a_drifted_one_fails(tmp_path, monkeypatch, prefect_api_url):
    monkeypatch.chdir(make_project(tmp_path, stage_metrics()))
    assert calibrate.main(["--margin", "0.2"]) == 0  # wide bands: the drift check alone must catch a 0.1 move
    cfg = filter_config(params()["filter"])
    gate_filter(stage_metrics()["filter"], cfg)
    assert gate_record("filter-drift")["outcome"] == "passed" and gate_record("filter-drift")["results"]

    drifted = stage_metrics(shares={"Go": 0.60, "Python": 0.38, "Shell": 0.02})["filter"]
    with pytest.raises(GateFailed, match="filter-drift"):
        gate_filter(drifted, cfg)
    assert gate_record("filter-language-mix")["success"]  # inside the calibrated bands...
    record = gate_record("filter-drift")  # ...but too far from the accepted run
    assert record["outcome"] == "FAILED" and {r["condition"] for r in record["results"] if not r["success"]} == {
        "metric == 'language_share[Go]'", "metric == 'language_share[Python]'"}

    with pytest.raises(GateFailed, match="dedup-drift"):  # dropped 0.2: in its band [0, 0.32], 0.08 from 0.12
        gate_dedup(stage_metrics(dropped=0.2)["dedup"], dedup_config(params()["dedup"]))

    # warn mode: the same misses are reported and recorded, the stage's gate step returns
    assert calibrate.main(["warn"]) == 0
    gate_filter(drifted, filter_config(params()["filter"]))
    record = gate_record("filter-drift")
    assert not record["success"] and record["mode"] == "warn" and record["outcome"].startswith("FAILED (warn")


def test_without_a_snapshot_the_drift_gate_says_it_checked_nothing(tmp_path, monkeypatch, prefect_api_url):
    monkeypatch.chdir(make_project(tmp_path, stage_metrics()))
    assert calibrate.main(["bands", "--stages", "filter"]) == 0  # bands, but no accepted snapshot
    gate_filter(stage_metrics()["filter"], filter_config(params()["filter"]))
    record = gate_record("filter-drift")
    assert record["success"] and record["outcome"] == "not checked" and not record["results"]
    assert "no accepted snapshot at expectations/accepted/filter.json" in record["notes"][0]


def test_filter_flow_completes_in_warn_mode_and_fails_in_enforce(tmp_path, monkeypatch, prefect_api_url):
    from flows.filter import filter_flow
    from tests.filter.test_filter_shard import write_raw

    root = make_project(tmp_path / "p")
    shutil.copy2(ROOT / "dvc.yaml", root / "dvc.yaml")  # partition jobs are keyed by the stage's deps in it
    monkeypatch.chdir(root)
    write_raw(root / "data" / "raw" / "part-00000.parquet", ["local/a", "local/b"])
    p = params()
    p["runtime"].update(partition_cache=str(tmp_path / "cache"), workers=1)
    p["filter"]["gate"].update(mode="warn", pass_rate_bytes=[0.0, 1.0], pass_rate_files=[0.0, 1.0],
                               language_share={"Python": [0.0, 0.01], "default": [0.0, 1.0]})
    Path("params.yaml").write_text(yaml.safe_dump(p))

    metrics = filter_flow(params_path="params.yaml")  # the language-mix gate fails: reported, the stage completes
    assert json.loads(Path("metrics/filter.json").read_text()) == metrics
    assert any(Path("data/filtered").glob("part-*.parquet"))
    record = gate_record("filter-language-mix")
    assert record["mode"] == "warn" and not record["success"]

    shutil.rmtree("metrics")
    p["filter"]["gate"]["mode"] = "enforce"
    Path("params.yaml").write_text(yaml.safe_dump(p))
    with pytest.raises(GateFailed, match="filter-language-mix"):
        filter_flow(params_path="params.yaml")
    assert not Path("metrics/filter.json").exists()  # a failed gate writes no metrics (DVC keeps no lock)
