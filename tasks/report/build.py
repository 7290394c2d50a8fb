"""Build the static run report: one self-contained HTML page plus the CSV tables behind `dvc plots`.

The page is a DVC output, so it carries no timestamp and no run-specific ids: the same metrics, data,
params and PREFECT_API_URL give the same bytes. `python -m tasks.report [--root .]` runs it
without Prefect (the stage flow calls `build_report`).
"""
from __future__ import annotations

import argparse
import os
from html import escape
from pathlib import Path
from typing import Any

from tasks.common.io import atomic_write_text
from tasks.report import plots, sections, svg
from tasks.report.config import Config, config_from_params
from tasks.report.inputs import Inputs, dig, load_inputs, num, read_clusters, read_series
from tasks.report.page import kpi, render

TITLE = "coder-pipeline · run report"
SUBTITLE = ("DeepSeek-Coder data pipeline (arXiv 2401.14196): crawl → filter → order → dedup → quality → "
            "tokenizer → pack → pretrain → evaluate")


def prefect_ui_url(cfg: Config) -> str | None:
    """The Prefect UI root: configured, else PREFECT_API_URL without its /api suffix."""
    if cfg.prefect_ui_url:
        return cfg.prefect_ui_url
    api = os.environ.get("PREFECT_API_URL", "").strip().rstrip("/")
    if not api.startswith(("http://", "https://")):
        return None
    return api[: -len("/api")] if api.endswith("/api") else api


def _kpis(inputs: Inputs, funnel_rows: list[dict[str, Any]], val: list | None) -> list[str]:
    m = inputs.m
    out = []
    c = m("crawl")
    out.append(kpi("repos crawled", svg.fmt_int(num(dig(c, "repos"))),
                   f"{svg.fmt_int(num(dig(c, 'files')))} files · {svg.fmt_bytes(num(dig(c, 'bytes')))}" if c
                   else "crawl not run"))
    f = m("filter")
    out.append(kpi("kept by filter", svg.fmt_pct(num(dig(f, "pass_rate_bytes"))),
                   f"of bytes · {svg.fmt_int(num(dig(f, 'files_kept')))} files" if f else "filter not run"))
    d = m("dedup")
    out.append(kpi("repos after dedup", svg.fmt_int(num(dig(d, "repos_kept"))),
                   f"{svg.fmt_int(num(dig(d, 'repos_dropped')))} near-duplicates dropped" if d else "dedup not run"))
    q = m("quality")
    out.append(kpi("clean text", svg.fmt_bytes(num(dig(q, "bytes", "out"))),
                   f"{svg.fmt_int(num(dig(q, 'files', 'out')))} files" if q else "quality not run"))
    tokens = next((r["tokens"] for r in funnel_rows if r["stage"] == "pack"), None)
    bpt = num(dig(m("tokenizer"), "heldout", "bytes_per_token"))
    sub = "all splits" if m("pack") else "pack not run"
    out.append(kpi("tokens packed", svg.fmt_int(tokens), sub + (f" · {bpt:.2f} bytes/token" if bpt else "")))
    summary = dig(m("eval"), "summary") or {}
    loss = num(summary.get("val_loss")) if isinstance(summary, dict) else None
    if loss is None and val:
        loss = val[-1][1]
    out.append(kpi("val loss", svg.fmt_num(loss), "evaluate / dvclive" if loss is not None else "not trained yet"))
    he = num(summary.get("humaneval_pass@1")) if isinstance(summary, dict) else None
    out.append(kpi("HumanEval pass@1", svg.fmt_pct(he), "metrics/eval.json" if he is not None else "not evaluated yet"))
    return out


def _gates(inputs: Inputs) -> list[tuple[str, Any]]:
    out = []
    for stage, metrics in inputs.metrics.items():
        gate = metrics.get("gate")
        if isinstance(gate, dict) and "passed" in gate:
            out.append((stage, gate["passed"] if isinstance(gate["passed"], bool) else None))
    return out


def build_report(root: str = ".", out: str = "reports/index.html", cfg: Config | None = None) -> dict[str, Any]:
    """Write the report page (`out`, relative to `root`) and reports/plots/*.csv; return the stage metrics.

    Never raises for missing or unreadable inputs: those sections say so and `problems` lists them.
    """
    cfg = cfg or Config()
    base = Path(root).resolve()
    out_path = Path(out) if Path(out).is_absolute() else base / out
    inputs = load_inputs(base, cfg.metrics_dir)

    mix = plots.language_mix(inputs)
    funnel_rows = plots.funnel(inputs, mix)
    pass_rates = plots.filter_pass_rates(inputs)
    drops = plots.drop_reasons(inputs)
    clusters = read_clusters(base / cfg.data_dir / "dedup_clusters.parquet", base, inputs.problems, cfg.max_rows)
    sizes = plots.cluster_sizes(inputs)
    metric_dir = base / cfg.live_dir / "plots" / "metrics"
    loss = read_series(metric_dir / "train" / "loss.tsv", base, inputs.problems)
    val = read_series(metric_dir / "val" / "loss.tsv", base, inputs.problems)
    lr = read_series(metric_dir / "train" / "lr.tsv", base, inputs.problems)

    docs = base / cfg.data_docs
    docs_href = Path(os.path.relpath(docs, out_path.parent)).as_posix() if docs.exists() else None
    ui = prefect_ui_url(cfg)
    page_sections = [
        sections.funnel_section(funnel_rows),
        sections.languages_section(mix, pass_rates, cfg.top_languages),
        sections.drops_section(drops, inputs, cfg.max_rows),
        sections.dedup_section(inputs, clusters, sizes, cfg.max_rows),
        sections.governance_section(inputs),
        sections.training_section(loss, val, lr, inputs, cfg.live_dir),
        sections.eval_section(inputs),
        sections.links_section(docs_href, cfg.data_docs, f"{ui}/runs" if ui else None, _gates(inputs)),
    ]
    header_links = []
    header_links.append(f'<a href="{escape(docs_href)}">Data Docs</a>' if docs_href
                        else '<span class="off">Data Docs: not built</span>')
    header_links.append(f'<a href="{escape(ui)}/runs">Prefect runs</a>' if ui
                        else '<span class="off">Prefect: no server</span>')
    found = ", ".join(s for s in inputs.metrics) or "none"
    footer = (f"<p>Built by <code>tasks.report</code> from {escape(cfg.metrics_dir)}/*.json, "
              f"{escape(cfg.data_dir)}/ and {escape(cfg.live_dir)}/. Stage metrics found: {escape(found)}. "
              f"Chart tables: <code>{escape(cfg.plots_dir)}/*.csv</code> (<code>dvc plots show</code>).</p>")
    if inputs.problems:
        footer = ('<div class="problems"><b>Inputs that could not be read</b><ul>'
                  + "".join(f"<li>{escape(p)}</li>" for p in inputs.problems) + "</ul></div>" + footer)
    html = render(TITLE, SUBTITLE, "".join(header_links), _kpis(inputs, funnel_rows, val), page_sections, footer)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_path, html)

    tables = {"funnel": funnel_rows, "language_mix": mix, "filter_pass_rate": pass_rates, "drop_reasons": drops,
              "dedup_cluster_sizes": sizes}
    written = plots.write_tables(base / cfg.plots_dir, tables)
    return {
        "sections": {s.id: s.status for s in page_sections},
        "stages_found": sorted(inputs.metrics),
        "plots": written,
        "problems": list(inputs.problems),
        "languages": len({r["lang"] for r in mix}),
        "html_bytes": len(html.encode("utf-8")),
    }


def aggregate(result: dict[str, Any]) -> dict[str, Any]:
    """metrics/report.json: which sections rendered fully (the report has no shards to sum)."""
    statuses = result["sections"]
    return {
        "sections": dict(sorted(statuses.items())),
        "sections_ok": sum(1 for s in statuses.values() if s == "ok"),
        "sections_missing": sorted(k for k, s in statuses.items() if s == "missing"),
        "stages_found": result["stages_found"],
        "problems": len(result["problems"]),
        "plots": result["plots"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", default=".")
    ap.add_argument("--out", default="reports/index.html")
    ap.add_argument("--params", default=None, help="params.yaml (default: <root>/params.yaml if present)")
    args = ap.parse_args(argv)
    from tasks.common.params import load_params

    params_path = Path(args.params) if args.params else Path(args.root) / "params.yaml"
    section = load_params(params_path).get("report") if params_path.exists() else None
    result = build_report(args.root, args.out, config_from_params(section))
    for p in result["problems"]:
        print(f"warning: {p}")
    print(f"{args.out}: " + ", ".join(f"{k}={v}" for k, v in result["sections"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
