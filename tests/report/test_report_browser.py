"""The report and the Great Expectations Data Docs, loaded in real headless chromium (offline)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from report_project import make_project

from tasks.report import build_report

# charts the full fixture must show: funnel, language mix, pass rate, filter drops, quality drops,
# dedup cluster sizes, loss, learning rate
FULL_CHARTS = 8
CHART_CHECK = """JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => {
  const r = s.getBoundingClientRect();
  return {w: r.width, h: r.height, marks: s.querySelectorAll('rect,polyline,circle').length,
          label: s.getAttribute('aria-label')};
}))"""


def _load(browser, url: str):
    page = browser.page()
    page.send("Emulation.setDeviceMetricsOverride", {"width": 1200, "height": 900, "deviceScaleFactor": 1,
                                                     "mobile": False})
    page.goto(url)
    return page


def test_full_report_renders_charts_and_tables_without_errors(browser, tmp_path, monkeypatch) -> None:
    wrote = make_project(tmp_path, seed=5)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    build_report(str(tmp_path))
    page = _load(browser, (tmp_path / "reports" / "index.html").as_uri())
    assert page.errors() == []
    charts = json.loads(page.evaluate(CHART_CHECK))
    assert len(charts) == FULL_CHARTS, [c["label"] for c in charts]
    for c in charts:
        assert c["w"] > 200 and c["h"] > 40 and c["marks"] > 0, c
    statuses = page.evaluate("[...document.querySelectorAll('section')].map(s => s.dataset.status)")
    assert len(statuses) == 8 and "missing" not in statuses
    rows = page.evaluate("document.querySelectorAll('#dedup tbody tr').length")
    assert rows == len(wrote["clusters"])
    bench_rows = page.evaluate("document.querySelectorAll('#eval table')[1].querySelectorAll('tbody tr').length")
    assert bench_rows == len(wrote["eval"]["benchmarks"])
    # nothing spills sideways at a laptop width
    assert page.evaluate("document.documentElement.scrollWidth") <= 1200
    shot = tmp_path / "report.png"
    assert page.screenshot(shot) > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_report_shows_stage_not_run_lines(browser, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    build_report(str(tmp_path))
    page = _load(browser, (tmp_path / "reports" / "index.html").as_uri())
    assert page.errors() == []
    assert page.evaluate("document.querySelectorAll('svg.chart').length") == 0
    visible = page.evaluate("[...document.querySelectorAll('p.missing')].filter(p => p.offsetHeight > 0)"
                            ".map(p => p.innerText)")
    assert len(visible) >= 6 and all("stage not run" in v for v in visible)


def test_gx_data_docs_render_offline(browser, tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    from expectations.gates import run_gate
    from expectations.offline_docs import remote_assets

    df = pd.DataFrame({"lang": ["Python", "C", "Rust"], "share": [0.55, 0.3, 0.15]})
    expectations = [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "share", "min_value": 0.0, "max_value": 0.5}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "lang", "value_set": ["Python", "C", "Rust"]}},
    ]
    result = run_gate("report_docs_probe", df, expectations, str(tmp_path / "reports"))
    assert result.success is False and result.docs_path
    index = Path(result.docs_path)
    page = _load(browser, index.as_uri())
    assert "Data Docs" in page.evaluate("document.title")
    assert page.errors() == []
    assert remote_assets(index.read_text()) == []
    # the vendored jQuery, Bootstrap and bootstrap-table ran: the validation list is a bootstrap table
    assert page.evaluate("typeof window.jQuery === 'function' && typeof window.vegaEmbed === 'function'")
    assert page.evaluate("document.querySelectorAll('.bootstrap-table').length") >= 1
    assert page.evaluate("getComputedStyle(document.querySelector('.fa, .fas, .far') || document.body).fontFamily") \
        .find("Font Awesome") >= 0
    # a validation page two folders down: its relative links reach the same vendored copies
    (validation,) = sorted((index.parent / "validations" / "report_docs_probe").rglob("*.html"))
    page = _load(browser, validation.as_uri())
    text = page.evaluate("document.body.innerText")
    assert "report_docs_probe" in text and "Failed" in text
    assert "Unsuccessful Expectations" in text and "share" in text and "lang" in text
    assert page.evaluate("document.querySelectorAll('table tr').length") >= 6
    assert page.errors() == []
    assert remote_assets(validation.read_text()) == []
    assert page.screenshot(tmp_path / "data_docs.png") > 5_000
