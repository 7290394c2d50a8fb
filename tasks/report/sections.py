"""One function per report section: tables in, HTML out, and a plain "stage not run" line whenever the
section's input does not exist yet."""
from __future__ import annotations

from html import escape
from typing import Any

from tasks.report import svg
from tasks.report.inputs import Inputs, dig, num
from tasks.report.page import Section, missing, table

OTHER = "other"
LEVELS = ("Easy", "Medium", "Hard")  # LeetCode's difficulties, in the paper's column order


# ------------------------------------------------------------------ funnel
def funnel_section(rows: list[dict[str, Any]]) -> Section:
    if not rows:
        return Section("funnel", "Pipeline funnel", "missing", missing("crawl", "metrics/crawl.json"), "Funnel")
    chart_rows, table_rows, prev = [], [], None
    for r in rows:
        b = r["bytes"]
        kept = "input" if prev is None else "–" if prev == 0 or b is None else f"{svg.fmt_pct(b / prev)} of bytes"
        if r["stage"] == "pack" and r["tokens"] is not None:
            kept = f"{svg.fmt_int(r['tokens'])} tokens"
        counts = []
        if r["files"] is not None:
            counts.append(f"{svg.fmt_int(r['files'])} files")
        elif r["samples"] is not None:
            counts.append(f"{svg.fmt_int(r['samples'])} docs")
        counts.append(svg.fmt_bytes(b))
        chart_rows.append((r["stage"], float(b or 0), " · ".join(counts), kept))
        table_rows.append([r["stage"], svg.fmt_int(r["repos"]), svg.fmt_int(r["samples"]), svg.fmt_int(r["files"]),
                           svg.fmt_bytes(b), svg.fmt_int(r["tokens"]),
                           "–" if prev in (None, 0) or b is None or r["stage"] == "pack" else svg.fmt_pct(b / prev)])
        if b is not None and r["stage"] != "pack":
            prev = b
    ran = {r["stage"] for r in rows}
    not_run = [s for s in ("crawl", "filter", "order", "dedup", "quality", "pack") if s not in ran]
    body = ['<p class="lead">What is left after each stage. Bars are bytes of text; order and later stages '
            "count repo-level samples (files concatenated, each headed by its path).</p>",
            svg.funnel(chart_rows, "Pipeline funnel: bytes left after each stage"),
            table([("stage", False), ("repos", True), ("samples", True), ("files", True), ("bytes", True),
                   ("tokens", True), ("bytes kept", True)], table_rows)]
    if not_run:
        body.append(f'<p class="note">Stage not run yet: {escape(", ".join(not_run))}.</p>')
    return Section("funnel", "Pipeline funnel", "partial" if not_run else "ok", "".join(body), "Funnel")


# ------------------------------------------------------------------ languages
def language_colors(mix: list[dict[str, Any]], top: int) -> tuple[list[str], dict[str, str]]:
    """The `top` languages by bytes in the first stage seen, each with a fixed colour for every chart."""
    first = mix[0]["stage"] if mix else None
    ranked = sorted((r for r in mix if r["stage"] == first), key=lambda r: (-r["bytes"], r["lang"]))
    langs = [r["lang"] for r in ranked[:top]]
    colors = {lang: svg.color(i) for i, lang in enumerate(langs)}
    return langs, colors


def languages_section(mix: list[dict[str, Any]], pass_rates: list[dict[str, Any]], top: int) -> Section:
    title = "Language mix"
    if not mix:
        return Section("languages", title, "missing", missing("crawl", "metrics/crawl.json"), "Languages")
    langs, colors = language_colors(mix, top)
    stages = list(dict.fromkeys(r["stage"] for r in mix))
    cats = langs + [OTHER]
    bars = []
    for stage in stages:
        by = {r["lang"]: r["bytes"] for r in mix if r["stage"] == stage}
        values = [float(by.get(lang, 0)) for lang in langs]
        values.append(float(sum(v for k, v in by.items() if k not in colors)))
        bars.append((stage, values))
    fills = [colors[lang] for lang in langs] + [svg.OTHER]
    body = ['<p class="lead">Share of bytes per language after each stage (top languages by crawled bytes; '
            "the rest is <i>other</i>). Hover a segment for its exact share.</p>",
            svg.stacked_share(bars, cats, fills, "Language mix (share of bytes) after each stage")]
    head = [("language", False)] + [(s, True) for s in stages]
    rows = []
    for i, lang in enumerate(cats):
        row = [lang]
        for _, values in bars:
            total = sum(values) or 1.0
            row.append(svg.fmt_pct(values[i] / total))
        rows.append(row)
    body.append("<details><summary>Shares as a table</summary>" + table(head, rows) + "</details>")
    if pass_rates:
        shown = sorted(pass_rates, key=lambda r: (-r["bytes_in"], r["lang"]))[:top]
        hrows = [(r["lang"], r["pass_rate_bytes"],
                  f"{svg.fmt_pct(r['pass_rate_bytes'], 0)} of {svg.fmt_bytes(r['bytes_in'])} · "
                  f"{r['files_kept']:,}/{r['files_in']:,} files") for r in shown]
        body.append("<h3>Filter pass rate by language (bytes kept)</h3>")
        body.append(svg.hbar(hrows, "Filter pass rate by language, share of bytes kept", fill=svg.ACCENT))
    else:
        body.append(missing("filter", "metrics/filter.json"))
    status = "ok" if pass_rates and len(stages) > 1 else "partial"
    return Section("languages", title, status, "".join(body), "Languages")


# ------------------------------------------------------------------ drop reasons
def drops_section(drops: list[dict[str, Any]], inputs: Inputs, max_rows: int) -> Section:
    parts, present = [], 0
    for stage, what in (("filter", "Filter drops (files removed by the StarCoder rules)"),
                        ("quality", "Quality removals (heuristics, syntax, decontamination)")):
        parts.append(f"<h3>{escape(what)}</h3>")
        if inputs.m(stage) is None:
            parts.append(missing(stage, f"metrics/{stage}.json"))
            continue
        present += 1
        rows = [r for r in drops if r["stage"] == stage and (r["files"] or r["bytes"])][:max_rows]
        if not rows:
            parts.append('<p class="note">Nothing removed.</p>')
            continue
        total_b = num(inputs.m(stage).get("bytes_in")) or num(dig(inputs.m(stage), "bytes", "in"))
        hrows = [(r["reason"], float(r["bytes"]), f"{svg.fmt_bytes(r['bytes'])} · {r['files']:,} files"
                  + (f" · {svg.fmt_pct(r['bytes'] / total_b)}" if total_b else "")) for r in rows]
        parts.append(svg.hbar(hrows, f"{stage} drop reasons by bytes", fill="#e15759"))
    status = "ok" if present == 2 else ("partial" if present else "missing")
    lead = ('<p class="lead">Why data was removed, by bytes; each label gives the files and the share of the '
            "stage's input bytes.</p>")
    return Section("drops", "Drop reasons", status, lead + "".join(parts), "Drops")


# ------------------------------------------------------------------ governance
def governance_section(inputs: Inputs) -> Section:
    """Beyond the paper: licences and the policy's drops (crawl, filter), secrets and personal data
    redacted (redact), exact and near duplicates by granularity (dedup)."""
    crawl, filt, red, dd = (inputs.m(s) for s in ("crawl", "filter", "redact", "dedup"))
    if not any((crawl, filt, red, dd)):
        return Section("governance", "Governance", "missing", missing("crawl", "metrics/crawl.json"), "Governance")
    body, present = [], 0
    lic = dig(crawl, "licenses")
    if isinstance(lic, dict):
        present += 1
        cats = lic.get("by_category") or {}
        rows = [[escape(c), escape(svg.fmt_int(num(n)))] for c, n in sorted(cats.items(), key=lambda kv: -kv[1])]
        same, covers = num(lic.get("agreement_same")), num(lic.get("agreement_covers"))
        policy = dig(filt, "license_policy") or {}
        body.append("<h3>Licences (repositories)</h3>" + table([("category", False), ("repositories", True)], rows)
                    + f'<p class="note">Detection vs the registry\'s declared licence, over '
                    f"{escape(svg.fmt_int(num(lic.get('declared_and_detected'))))} repositories: same licences "
                    f"{escape(svg.fmt_pct(same) if same is not None else '–')}, files naming every declared one "
                    f"{escape(svg.fmt_pct(covers) if covers is not None else '–')}. Policy drops: "
                    f"{escape(svg.fmt_int(num(policy.get('repos_dropped'))))} repositories; opted out at crawl: "
                    f"{escape(svg.fmt_int(num(crawl.get('opted_out'))))}.</p>")
    if isinstance(red, dict):
        present += 1
        rows = [[escape(t), escape(svg.fmt_int(num(n)))] for t, n in (red.get("by_type") or {}).items()]
        body.append("<h3>Secrets and personal data redacted</h3>"
                    + table([("type", False), ("findings", True)], rows)
                    + f'<p class="note">{escape(svg.fmt_int(num(red.get("files_redacted"))))} of '
                    f'{escape(svg.fmt_int(num(red.get("files"))))} files changed; a rescan of the redacted text found '
                    f'{escape(svg.fmt_int(num(red.get("residual"))))}. Types and positions only: values are never '
                    "recorded.</p>")
    exact, near = dig(dd, "exact"), dig(dd, "near")
    if isinstance(exact, dict) and isinstance(near, dict):
        present += 1
        rows = [["exact copies (files)", escape(svg.fmt_int(num(exact.get("files_dropped")))),
                 escape(svg.fmt_pct(num(exact.get("file_share")) or 0.0)),
                 escape(svg.fmt_bytes(num(exact.get("bytes_dropped"))))],
                [f"near duplicates ({escape(str(near.get('granularity')))} level)",
                 escape(svg.fmt_int(num(near.get("docs_dropped")))), "–",
                 escape(svg.fmt_bytes(num(dd.get("bytes_dropped"))))]]
        body.append("<h3>Duplicates</h3>" + table([("what", False), ("dropped", True), ("share of files", True),
                                                  ("bytes", True)], rows, raw=True))
    status = "ok" if present == 3 else ("partial" if present else "missing")
    return Section("governance", "Governance: licences, secrets, duplicates", status, "".join(body), "Governance")


# ------------------------------------------------------------------ dedup
def dedup_section(inputs: Inputs, head: tuple[list[dict[str, Any]], int] | None, sizes: list[dict[str, Any]],
                  max_rows: int) -> Section:
    """`head`: the first rows of the clusters table and its row count (inputs.read_clusters)."""
    d = inputs.m("dedup")
    clusters, total = head if head is not None else (None, 0)
    if d is None and clusters is None:
        return Section("dedup", "Near-duplicate repositories", "missing",
                       missing("dedup", "data/dedup_clusters.parquet"), "Dedup")
    body = []
    if d is not None:
        facts = [("repos in", svg.fmt_int(num(d.get("repos_in")))), ("kept", svg.fmt_int(num(d.get("repos_kept")))),
                 ("dropped", svg.fmt_int(num(d.get("repos_dropped")))),
                 ("clusters", svg.fmt_int(num(d.get("clusters")))),
                 ("threshold (Jaccard)", svg.fmt_num(num(d.get("threshold")))),
                 ("bytes dropped", svg.fmt_bytes(num(d.get("bytes_dropped"))))]
        body.append('<p class="lead">Repository-level MinHash LSH; each cluster keeps one repository. '
                    + " · ".join(f"{k}: <b>{escape(v)}</b>" for k, v in facts) + "</p>")
    sizes_by_repo = {str(r.get("repo")): num(r.get("size")) for r in (d or {}).get("dropped", []) or []
                     if isinstance(r, dict)}
    if clusters:
        grid = []
        if sizes:
            grid.append(svg.vbar([(str(r["cluster_size"]), float(r["clusters"])) for r in sizes],
                                 "Dedup clusters by number of repositories", "repositories per cluster",
                                 "clusters", width=300.0))
        rows = []
        for r in clusters[:max_rows]:
            kept = '<span class="pill kept">kept</span>' if r["kept"] else '<span class="pill dropped">dropped</span>'
            rows.append([escape(str(r["cluster"])), escape(str(r["repo"])), kept,
                         escape(svg.fmt_num(num(r.get("est_jaccard")))),
                         escape(svg.fmt_num(num(r.get("exact_jaccard")))),
                         escape(svg.fmt_bytes(sizes_by_repo.get(str(r["repo"]))))
                         if not r["kept"] and str(r["repo"]) in sizes_by_repo else "–"])
        tbl = table([("cluster", True), ("repository", False), ("", False), ("est. J", True),
                     ("exact J", True), ("bytes", True)], rows, raw=True)
        if total > len(clusters):
            tbl += f'<p class="note">First {len(clusters)} of {total} rows; all in data/dedup_clusters.parquet.</p>'
        body.append(f'<div class="grid2 side"><div class="scroll">{tbl}</div><div>{"".join(grid)}</div></div>')
        status = "ok" if d is not None else "partial"
    elif clusters is not None:
        body.append('<p class="note">No near-duplicate clusters found.</p>')
        status = "ok" if d is not None else "partial"
    else:
        body.append(missing("dedup", "data/dedup_clusters.parquet"))
        status = "partial"
    return Section("dedup", "Near-duplicate repositories", status, "".join(body), "Dedup")


# ------------------------------------------------------------------ training
MAX_POINTS = 1500


def thin(points: list, limit: int = MAX_POINTS) -> list:
    """Every k-th point plus the last, so a long run stays a small page (the TSVs keep every step)."""
    if len(points) <= limit:
        return points
    k = -(-len(points) // limit)
    kept = points[::k]
    return kept if kept[-1] == points[-1] else kept + [points[-1]]


def training_section(loss: list | None, val: list | None, lr: list | None, inputs: Inputs, live_dir: str) -> Section:
    if not loss and not val:
        body = missing("pretrain", f"{live_dir}/plots/metrics/train/loss.tsv")
        return Section("training", "Training", "missing", body, "Training")
    loss, val, lr = (thin(x) if x else x for x in (loss, val, lr))
    series = []
    if loss:
        series.append(("train loss", loss, svg.ACCENT, len(loss) <= 30))
    if val:
        series.append(("val loss", val, "#e15759", True))
    body = ['<p class="lead">Loss per optimizer step, from dvclive '
            f"(<code>{escape(live_dir)}</code>).</p>",
            svg.line_chart(series, "Training and validation loss by step", "step", "loss")]
    if lr:
        body.append("<h3>Learning rate</h3>")
        body.append(svg.line_chart([("learning rate", lr, "#59a14f", len(lr) <= 30)], "Learning rate by step",
                                   "step", "lr", height=200, y_zero=True))
    p = inputs.m("pretrain")
    if p:
        rows = [[k, svg.fmt_num(num(v))] for k, v in sorted(p.items()) if num(v) is not None]
        if rows:
            body.append("<details><summary>metrics/pretrain.json</summary>"
                        + table([("metric", False), ("value", True)], rows) + "</details>")
    status = "ok" if loss and val else "partial"
    return Section("training", "Training", status, "".join(body), "Training")


# ------------------------------------------------------------------ eval
def _bench_status(stats: dict[str, Any]) -> str:
    if "error" in stats:
        return f'<span class="pill err" title="{escape(str(stats["error"]))}">error</span>'
    if "skipped" in stats:
        return f'<span class="pill skip" title="{escape(str(stats["skipped"]))}">skipped</span>'
    return '<span class="pill kept">ok</span>'


def eval_section(inputs: Inputs) -> Section:
    e = inputs.m("eval")
    if e is None:
        return Section("eval", "Evaluation", "missing", missing("evaluate", "metrics/eval.json"), "Eval")
    summary = e.get("summary") if isinstance(e.get("summary"), dict) else {}
    body = ['<p class="lead">Headline scores of the trained model (metrics/eval.json <code>summary</code>).</p>']
    rows = [[escape(k), escape(svg.fmt_num(num(v)) if num(v) is not None else str(v))]
            for k, v in sorted(summary.items())]
    body.append(table([("metric", False), ("value", True)], rows, raw=True) if rows
                else '<p class="note">No summary metrics recorded.</p>')
    benches = e.get("benchmarks") if isinstance(e.get("benchmarks"), dict) else {}
    if benches:
        brows = []
        for name, stats in sorted(benches.items()):
            stats = stats if isinstance(stats, dict) else {}
            scalars = [f"{k} {svg.fmt_num(num(v))}" for k, v in sorted(stats.items())
                       if num(v) is not None and k != "seconds"]
            if isinstance(stats.get("languages"), dict):  # the multilingual benchmarks: passed / run per language
                scalars = [_language_counts(lang, v) for lang, v in stats["languages"].items() if isinstance(v, dict)]
            detail = " · ".join(scalars[:8]) or str(stats.get("error") or stats.get("skipped") or "–")
            brows.append([escape(name), _bench_status(stats), escape(detail[:300]),
                          escape(svg.fmt_num(num(stats.get("seconds"))))])
        body.append("<h3>Benchmarks</h3>")
        body.append(table([("benchmark", False), ("status", False), ("scores", False), ("seconds", True)],
                          brows, raw=True))
    tables = e.get("tables") if isinstance(e.get("tables"), dict) else {}
    if tables:
        body.append(paper_tables_html(tables, _model_label(e.get("model"))))
    errors = e.get("errors") or []
    status = "partial" if errors or not rows else "ok"
    return Section("eval", "Evaluation", status, "".join(body), "Eval")


def _language_counts(lang: str, stats: dict[str, Any]) -> str:
    if "skipped" in stats:
        return f"{lang} skipped"
    hits, n = stats.get("n_passed", stats.get("n_exact")), stats.get("n_problems", stats.get("n"))
    return f"{lang} {svg.fmt_int(num(hits))}/{svg.fmt_int(num(n))}"


def _model_label(model: Any) -> str:
    if not isinstance(model, dict):
        return "model"
    params = num(model.get("n_params"))
    return f"{model.get('dir') or 'model'}" + (f" ({svg.fmt_num(params / 1e6)}M)" if params else "")


def _score(value: Any, reason: Any, n: Any) -> str:
    """A table cell: the score as a percentage (n problems in its tooltip), or a dash with the reason."""
    if num(value) is None:
        return f'<span class="pill skip" title="{escape(str(reason or "no score"))}">–</span>'
    return f'<span title="{escape(str(n))} problems">{escape(svg.fmt_pct(num(value)))}</span>'


def _cells(table_: dict[str, Any]) -> list[dict[str, Any]]:
    cols = table_.get("columns")
    return [c for c in cols if isinstance(c, dict)] if isinstance(cols, list) else []


def paper_tables_html(tables: dict[str, Any], model: str) -> str:
    """The paper's tables (metrics/eval.json `tables`): one row per model, one column per language and the
    mean; a cell without a score is a dash whose tooltip says why."""
    out = []
    for key, title in (("humaneval_multilingual", "Multilingual HumanEval, pass@1 (paper §4.1)"),
                       ("fim_multilingual", "Single-line FIM, exact match (paper §4.2)")):
        t = tables.get(key)
        if not isinstance(t, dict) or not _cells(t):
            continue
        cells = _cells(t)
        headers = [("model", False)] + [(str(c.get("name", c.get("key"))), True) for c in cells] + [("mean", True)]
        row = [escape(model)] + [_score(c.get("value"), c.get("reason"), c.get("n")) for c in cells]
        row.append(_score(t.get("mean"), t.get("mean_reason"), "all"))
        out.append(f"<h3>{escape(title)}</h3>" + table(headers, [row], raw=True, cls="paper"))
    lc = tables.get("leetcode")
    if isinstance(lc, dict):
        given = lc.get("by_difficulty") if isinstance(lc.get("by_difficulty"), dict) else {}
        levels = {d: given[d] for d in sorted(given, key=lambda d: (LEVELS.index(d) if d in LEVELS else 9, d))}
        headers = [("model", False)] + [(d, True) for d in levels] + [("overall", True)]
        row = [escape(model)] + [_score(v.get("pass@1"), "no problem of this difficulty ran", v.get("n"))
                                 for v in levels.values() if isinstance(v, dict)]
        row.append(_score(lc.get("value"), lc.get("reason"), lc.get("n")))
        out.append("<h3>LeetCode Contest, pass@1 (paper §4.1)</h3>" + table(headers, [row], raw=True, cls="paper"))
    return "".join(out)


# ------------------------------------------------------------------ links
def links_section(docs_href: str | None, docs_rel: str, runs_url: str | None, gates: list[tuple[str, Any]]) -> Section:
    items = []
    if docs_href:
        items.append(f'<li><a href="{escape(docs_href)}">Great Expectations Data Docs</a> — every gate run with '
                     "its expectations and observed values.</li>")
    else:
        items.append(f"<li>Great Expectations Data Docs: not built yet (<code>{escape(docs_rel)}</code>).</li>")
    if runs_url:
        items.append(f'<li><a href="{escape(runs_url)}">Prefect flow runs</a> — each stage\'s run, logs and '
                     "artifacts (needs the Prefect server running).</li>")
    else:
        items.append("<li>Prefect runs: no server known (PREFECT_API_URL not set when the report was built).</li>")
    body = "<ul>" + "".join(items) + "</ul>"
    if gates:
        rows = []
        for stage, passed in gates:
            pill = ('<span class="pill kept">passed</span>' if passed is True else
                    '<span class="pill dropped">failed</span>' if passed is False else
                    '<span class="pill skip">unknown</span>')
            rows.append([escape(stage), pill])
        body += "<h3>Gates recorded in metrics</h3>" + table([("stage", False), ("gate", False)], rows, raw=True)
    status = "ok" if docs_href and runs_url else "partial"
    return Section("links", "Data Docs and Prefect runs", status, body, "Links")
