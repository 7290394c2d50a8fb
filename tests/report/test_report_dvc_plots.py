"""The `plots:` list handed to dvc.yaml renders with DVC itself (`dvc plots show --json`) over the tables
build_report writes and the TSVs dvclive writes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from report_project import make_project

from tasks.report import build_report

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = ROOT / "tasks" / "report" / "dvc_plots.yaml"


def test_dvc_renders_every_plot_definition(tmp_path: Path) -> None:
    make_project(tmp_path, seed=7)
    build_report(str(tmp_path))
    shutil.copytree(ROOT / "tasks" / "report" / "templates", tmp_path / "tasks" / "report" / "templates")
    plots = yaml.safe_load(SNIPPET.read_text())["plots"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"plots": plots}, sort_keys=False))
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, env=env, check=True)
    out = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--json"], cwd=tmp_path, env=env,
                         check=True, capture_output=True, text=True)
    shown = json.loads(out.stdout)
    assert not shown.get("errors"), shown.get("errors")
    ids = [next(iter(p)) for p in plots]
    assert sorted(shown["data"]) == sorted(ids)
    for plot_id in ids:
        (spec,) = shown["data"][plot_id]
        assert spec["type"] == "vega", plot_id
        values = spec["content"]["data"]["values"]
        assert values, f"{plot_id}: no data points"
        definition = next(p[plot_id] for p in plots if plot_id in p)
        for source, field in definition["y"].items():  # each y file's field reached the plot data
            assert any(field in v and definition["x"] in v for v in values), (plot_id, source)
    mix = shown["data"]["language-mix-by-stage"][0]["content"]
    assert mix["encoding"]["x"]["stack"] == "normalize"  # our template, filled in
    assert {v["stage"] for v in mix["data"]["values"]} == {"crawl", "filter", "order", "dedup", "quality"}
    funnel = shown["data"]["pipeline-funnel"][0]["content"]["data"]["values"]
    assert [v["stage"] for v in funnel] == ["crawl", "filter", "order", "dedup", "quality", "pack"]
