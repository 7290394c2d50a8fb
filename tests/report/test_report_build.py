"""build_report on generated projects: numbers match the inputs, output is byte-stable, missing and broken
inputs degrade one section at a time."""
from __future__ import annotations

import csv
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from report_project import make_project

from tasks.report import aggregate, build_report
from tasks.report.config import Config

SECTIONS = {"funnel", "languages", "drops", "dedup", "governance", "training", "eval", "links"}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, dict]:
    root = tmp_path / "proj"
    return root, make_project(root, seed=3)


def test_full_project_renders_every_section_from_its_inputs(project, monkeypatch) -> None:
    root, wrote = project
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    result = build_report(str(root))
    # eval is "partial": one benchmark of the fixture recorded an error
    assert result["sections"] == {**{s: "ok" for s in SECTIONS}, "eval": "partial"}
    assert result["problems"] == []
    html = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert 'href="http://127.0.0.1:4321/runs"' in html
    assert 'href="data_docs/index.html"' in html  # relative: the page works when opened from disk
    assert "stage not run" not in html

    funnel = {r["stage"]: r for r in _csv(root / "reports" / "plots" / "funnel.csv")}
    assert list(funnel) == ["crawl", "filter", "order", "dedup", "quality", "pack"]
    assert int(funnel["crawl"]["bytes"]) == wrote["crawl"]["bytes"]
    assert int(funnel["filter"]["bytes"]) == wrote["filter"]["bytes_kept"]
    assert int(funnel["dedup"]["bytes"]) == wrote["dedup"]["bytes_kept"]
    assert int(funnel["quality"]["files"]) == wrote["quality"]["files"]["out"]
    assert int(funnel["pack"]["tokens"]) == sum(s["tokens"] for s in wrote["pack"]["splits"].values())
    # dedup has no file count in its metrics: it is counted from data/deduped
    assert int(funnel["dedup"]["files"]) == sum(r["n_files"] for r in wrote["deduped_rows"])

    mix = _csv(root / "reports" / "plots" / "language_mix.csv")
    by_stage = defaultdict(dict)
    for r in mix:
        by_stage[r["stage"]][r["lang"]] = r
    assert list(by_stage) == ["crawl", "filter", "order", "dedup", "quality"]
    for stage, langs in by_stage.items():
        assert sum(float(r["share"]) for r in langs.values()) == pytest.approx(1.0, abs=1e-4), stage
    assert "unknown" in by_stage["crawl"] and "unknown" not in by_stage["filter"]
    expected = Counter()
    for row in wrote["ordered_rows"]:
        for lang, content in zip(row["langs"], row["contents"]):
            expected[lang] += len(content.encode("utf-8"))  # UTF-8 bytes, not characters
    assert {k: int(v["bytes"]) for k, v in by_stage["order"].items()} == dict(expected)

    sizes = Counter(Counter(c["cluster"] for c in wrote["clusters"]).values())
    assert {int(r["cluster_size"]): int(r["clusters"]) for r in _csv(root / "reports/plots/dedup_cluster_sizes.csv")} \
        == dict(sizes)
    rates = {r["lang"]: r for r in _csv(root / "reports" / "plots" / "filter_pass_rate.csv")}
    py = wrote["filter"]["by_language"]["Python"]
    assert float(rates["Python"]["pass_rate_bytes"]) == pytest.approx(py["bytes_kept"] / py["bytes_in"], abs=1e-6)
    drops = [r for r in _csv(root / "reports" / "plots" / "drop_reasons.csv") if r["stage"] == "filter"]
    assert [int(r["bytes"]) for r in drops] == sorted((v["bytes"] for v in wrote["filter"]["drops"].values()),
                                                      reverse=True)

    # every cluster row and eval benchmark is on the page
    for c in wrote["clusters"]:
        assert c["repo"] in html
    for bench in wrote["eval"]["benchmarks"]:
        assert f"<td>{bench}</td>" in html
    metrics = aggregate(result)
    assert metrics["sections_ok"] == len(SECTIONS) - 1 and metrics["sections_missing"] == []
    assert "mbpp" in html and "sandbox unavailable" in html

    # the paper's tables: one row per model, a column per language and the mean; no score = a dash with its reason
    paper = re.findall(r'<table class="paper">(.*?)</table>', html)
    assert len(paper) == 3
    heads = [re.findall(r"<th(?: class=\"n\")?>(.*?)</th>", t) for t in paper]
    assert heads[0] == ["model", "Python", "C++", "Java", "PHP", "TypeScript", "C#", "Bash", "JavaScript", "mean"]
    assert heads[1] == ["model", "Python", "Java", "JavaScript", "mean"]
    assert heads[2] == ["model", "Easy", "Medium", "Hard", "overall"]
    assert all(t.count("<tr>") == 2 for t in paper)  # header + the one model evaluated
    assert "models/export (3.4M)" in paper[0] and "1.2%" in paper[0] and "0.6%" in paper[0]
    assert 'title="skipped: php not found: run `make toolchains`"' in paper[0]
    assert 'title="no score for PHP"' in paper[0]  # no mean over fewer languages than the paper's
    assert "33.3%" in paper[1] and "5.0%" in paper[2] and "13.3%" in paper[2]


def test_output_is_byte_stable_and_free_of_absolute_paths(project, tmp_path, monkeypatch) -> None:
    root, _ = project
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    build_report(str(root), "reports/a.html")
    build_report(str(root), "reports/b.html")
    a = (root / "reports" / "a.html").read_bytes()
    assert a == (root / "reports" / "b.html").read_bytes()
    copy = tmp_path / "elsewhere" / "proj2"
    shutil.copytree(root, copy)
    build_report(str(copy), "reports/a.html")
    assert (copy / "reports" / "a.html").read_bytes() == a  # nothing of the checkout location leaks in
    for name in ("funnel.csv", "language_mix.csv"):
        assert (copy / "reports" / "plots" / name).read_bytes() == (root / "reports" / "plots" / name).read_bytes()
    assert str(tmp_path).encode() not in a


def test_empty_project_says_stage_not_run_everywhere(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = build_report(str(tmp_path))
    html = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert set(result["sections"]) == SECTIONS
    assert all(result["sections"][s] == "missing" for s in SECTIONS - {"links"})
    assert html.count("stage not run") >= len(SECTIONS) - 1
    assert "Prefect: no server" in html and "Data Docs: not built" in html
    for name in result["plots"]:  # header only, so dvc plots definitions never point at a missing file
        lines = (tmp_path / "reports" / "plots" / name).read_text().splitlines()
        assert len(lines) == 1 and "," in lines[0]


@pytest.mark.parametrize("have", [("crawl",), ("crawl", "filter", "order", "dedup"), ("pretrain",), ("eval",)])
def test_partial_runs_render_what_exists(tmp_path, have) -> None:
    make_project(tmp_path, stages=have, seed=1)
    result = build_report(str(tmp_path))
    assert result["problems"] == []
    s = result["sections"]
    assert (s["funnel"] != "missing") == ("crawl" in have)
    assert (s["dedup"] != "missing") == ("dedup" in have)
    assert (s["training"] != "missing") == ("pretrain" in have)
    assert (s["eval"] != "missing") == ("eval" in have)
    html = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    if "quality" not in have:
        assert "quality stage not run" in html


def test_unreadable_inputs_are_recorded_not_raised(project) -> None:
    root, _ = project
    (root / "metrics" / "quality.json").write_text("{not json", encoding="utf-8")
    (root / "metrics" / "pack.json").write_text("[1, 2]", encoding="utf-8")
    (root / "data" / "dedup_clusters.parquet").write_bytes(b"PAR1 garbage")
    loss = root / "dvclive" / "pretrain" / "plots" / "metrics" / "train" / "loss.tsv"
    loss.write_text(loss.read_text() + "oops\tnot-a-step\tnan\n\t\t\n", encoding="utf-8")
    result = build_report(str(root))
    problems = "\n".join(result["problems"])
    assert "metrics/quality.json: unreadable" in problems
    assert "metrics/pack.json: expected a JSON object" in problems
    assert "data/dedup_clusters.parquet: unreadable" in problems
    assert result["sections"]["training"] == "ok"  # bad rows skipped, good ones kept
    assert result["sections"]["dedup"] == "partial"
    html = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Inputs that could not be read" in html and "quality stage not run" in html


def test_text_from_inputs_is_escaped(project) -> None:
    root, _ = project
    import json

    p = root / "metrics" / "filter.json"
    data = json.loads(p.read_text())
    data["drops"]['<script>alert("x")</script>'] = {"files": 1, "bytes": 10 ** 9}
    p.write_text(json.dumps(data))
    build_report(str(root))
    html = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_page_references_nothing_outside_itself(project, monkeypatch) -> None:
    root, _ = project
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    build_report(str(root))
    html = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|link|iframe)\b[^>]*\b(src|href)=", html)
    assert "@import" not in html and "url(" not in html
    external = re.findall(r'href="(https?://[^"]+)"', html)
    assert external and all(u.startswith("http://127.0.0.1:4321/") for u in external)


def test_configured_ui_url_wins_over_env(project, monkeypatch) -> None:
    root, _ = project
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    build_report(str(root), cfg=Config(prefect_ui_url="https://prefect.example.org"))
    html = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert 'href="https://prefect.example.org/runs"' in html and "4321" not in html
