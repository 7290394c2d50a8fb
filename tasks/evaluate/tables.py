"""The paper's result tables from per-benchmark stats: multilingual HumanEval (§4.1: Python, C++, Java, PHP,
TypeScript, C#, Bash, JavaScript, average), single-line FIM (Python, Java, JavaScript, mean) and LeetCode
Contest (Easy / Medium / Hard / overall). Pure functions; the result is metrics/eval.json `tables`, which the
report page draws.

A cell without a score (language skipped, benchmark not run or failed, no problems) is null with its reason,
and so is the mean unless every column has a score: a mean over fewer languages is not the paper's number.
"""
from __future__ import annotations

from typing import Any

from tasks.evaluate.multilingual import DIFFICULTIES, FIM_LANGUAGES, LANGUAGE_NAMES, TABLE_LANGUAGES


def _why_missing(stats: dict[str, Any] | None, benchmark: str) -> str:
    if stats is None:
        return f"{benchmark} not run (not in evaluate.benchmarks)"
    for key in ("skipped", "error", "reason"):
        if stats.get(key):
            return f"{key}: {stats[key]}"
    return "no score recorded"


def _cell(key: str, stats: dict[str, Any] | None, metric: str, count: str, benchmark: str) -> dict[str, Any]:
    value = (stats or {}).get(metric)
    cell = {"key": key, "name": LANGUAGE_NAMES[key], "value": value, "n": (stats or {}).get(count)}
    if value is None:
        cell["reason"] = _why_missing(stats, benchmark)
    return cell


def _with_mean(metric: str, cells: list[dict[str, Any]]) -> dict[str, Any]:
    missing = [c["name"] for c in cells if c["value"] is None]
    table: dict[str, Any] = {"metric": metric, "columns": cells}
    if missing:
        table.update(mean=None, mean_reason=f"no score for {', '.join(missing)}")
    else:
        table["mean"] = round(sum(c["value"] for c in cells) / len(cells), 6)
    return table


def _language_stats(multi: dict[str, Any] | None, lang: str, config_key: str) -> dict[str, Any] | None:
    """One language's stats inside a multilingual benchmark (the benchmark's own when it failed or was skipped)."""
    if multi is None or "error" in multi or "skipped" in multi:
        return multi
    return multi.get("languages", {}).get(lang, {"skipped": f"not in {config_key}"})


def humaneval_table(benchmarks: dict[str, Any]) -> dict[str, Any]:
    """Python from `humaneval`, the other seven languages from `humaneval_multilingual`."""
    multi = benchmarks.get("humaneval_multilingual")
    cells = [_cell("python", benchmarks.get("humaneval"), "pass@1", "n_problems", "humaneval")]
    cells += [_cell(lang, _language_stats(multi, lang, "evaluate.multilingual.languages"), "pass@1", "n_problems",
                    "humaneval_multilingual") for lang in TABLE_LANGUAGES[1:]]
    return _with_mean("pass@1", cells)


def fim_table(benchmarks: dict[str, Any]) -> dict[str, Any]:
    multi = benchmarks.get("fim_multilingual")
    cells = [_cell(lang, _language_stats(multi, lang, "evaluate.multilingual.fim_languages"), "exact_match", "n",
                   "fim_multilingual") for lang in FIM_LANGUAGES]
    return _with_mean("exact_match", cells)


def leetcode_table(benchmarks: dict[str, Any]) -> dict[str, Any]:
    stats = benchmarks.get("leetcode")
    value = (stats or {}).get("pass@1")
    table: dict[str, Any] = {"metric": "pass@1", "value": value, "n": (stats or {}).get("n_problems"),
                             "n_passed": (stats or {}).get("n_passed"),
                             "by_difficulty": (stats or {}).get("by_difficulty") or
                             {d: {"n": None, "n_passed": None, "pass@1": None} for d in DIFFICULTIES}}
    if value is None:
        table["reason"] = _why_missing(stats, "leetcode")
    return table


def paper_tables(benchmarks: dict[str, Any]) -> dict[str, Any]:
    """`benchmarks` = metrics/eval.json's per-benchmark stats."""
    return {"humaneval_multilingual": humaneval_table(benchmarks), "fim_multilingual": fim_table(benchmarks),
            "leetcode": leetcode_table(benchmarks)}


def paper_summary(tables: dict[str, Any]) -> dict[str, float]:
    """Headline numbers for the summary: each language's score and the means, where they exist."""
    out: dict[str, float] = {}
    he, fim, lc = tables["humaneval_multilingual"], tables["fim_multilingual"], tables["leetcode"]
    for cell in he["columns"][1:]:  # Python is already humaneval_pass@1
        if cell["value"] is not None:
            out[f"humaneval_{cell['key']}_pass@1"] = cell["value"]
    if he["mean"] is not None:
        out["humaneval_multilingual_mean_pass@1"] = he["mean"]
    for cell in fim["columns"]:
        if cell["value"] is not None:
            out[f"fim_{cell['key']}_exact_match"] = cell["value"]
    if fim["mean"] is not None:
        out["fim_multilingual_mean_exact_match"] = fim["mean"]
    if lc["value"] is not None:
        out["leetcode_pass@1"] = lc["value"]
    return out


def language_rows(tables: dict[str, Any]) -> list[dict[str, Any]]:
    """The two language tables as rows (score or "skipped"/"n/a") for the Prefect run's summary."""
    rows = []
    for key in ("humaneval_multilingual", "fim_multilingual"):
        t = tables[key]
        row: dict[str, Any] = {"table": f"{key} ({t['metric']})"}
        row.update({c["name"]: c["value"] if c["value"] is not None else "n/a" for c in t["columns"]})
        row["mean"] = t["mean"] if t["mean"] is not None else "n/a"
        rows.append(row)
    return rows
