"""Expectation suites as code: builders that turn params bands into lists of expectations.

An expectation is a plain dict in Great Expectations' own configuration form
(`{"type": "expect_...", "kwargs": {...}, "meta": {...}}`), so building a suite does not import GX
(~3 s); `gates.run_gate` turns the dicts into GX objects. Bands are inclusive: a value equal to a
bound passes.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

# Slack for "the shares add up to 1" (shares are rounded to 6 digits in the metrics).
SHARE_SUM_TOLERANCE = 1e-3


def expectation(type_: str, meta: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": dict(meta or {})}


def column_equals(column: str, value: Any) -> dict[str, Any]:
    """A GX row condition `column == value` (serialised form: no pandas query string to escape)."""
    return {"type": "comparison", "column": {"name": column}, "operator": "==", "parameter": value}


def _band(value: Any, name: str) -> tuple[float | None, float | None]:
    if isinstance(value, Mapping):
        return value.get("min"), value.get("max")
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value[0], value[1]
    raise ValueError(f"{name}: expected {{min, max}} or [lo, hi], got {value!r}")


def value_between(column: str, lo: float | None, hi: float | None, *,
                  where: tuple[str, Any] | None = None, notes: str | None = None) -> list[dict[str, Any]]:
    """Every value of `column` (in the rows where `where[0] == where[1]`) lies in [lo, hi].

    Expressed as "min in [lo, hi]" and "max in [lo, hi]": together exactly "all values in the band",
    and each reports the observed extreme in the gate result and the Data Docs. None = unbounded.
    """
    kwargs: dict[str, Any] = {"column": column, "min_value": lo, "max_value": hi}
    if where is not None:
        kwargs["row_condition"] = column_equals(*where)
    meta = {"notes": notes} if notes else {}
    return [expectation("expect_column_min_to_be_between", meta, **kwargs),
            expectation("expect_column_max_to_be_between", meta, **dict(kwargs))]


def _require_columns(table: Any, columns: Iterable[str], name: str) -> None:
    if table is None:
        return
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"{name}: table lacks column(s) {', '.join(missing)}")


PASS_RATE_COLUMNS = ("pass_rate_bytes", "pass_rate_files")


def filter_pass_rate(bounds: Mapping[str, Any], metric_table: Any = None) -> list[dict[str, Any]]:
    """The filter kept a plausible share of the corpus, by bytes and by files.

    `bounds`: `{pass_rate_bytes: {min, max}, pass_rate_files: {min, max}}`, or one `{min, max}` for
    both. `metric_table`: the one-row table it will check (only used to fail early on a wrong table).
    """
    _require_columns(metric_table, PASS_RATE_COLUMNS, "filter_pass_rate")
    shared = "min" in bounds or "max" in bounds
    out = [expectation("expect_table_row_count_to_equal", value=1)]
    for column in PASS_RATE_COLUMNS:
        lo, hi = _band(bounds if shared else bounds[column], column)
        out += value_between(column, lo, hi, notes=f"share of the input the filter keeps ({column})")
    return out


def language_mix(share_bounds: Mapping[str, Any], supported: Iterable[str], shares_table: Any) -> list[dict[str, Any]]:
    """Each language's share of the kept bytes lies in its band; only supported languages appear.

    `share_bounds`: `{lang: [lo, hi], ..., default: [lo, hi]}` (the default band covers languages not
    listed). `shares_table`: a table (lang, share), one row per language present, used to emit one
    band check per present language; a listed language whose lower bound is > 0 must be present.
    """
    _require_columns(shares_table, ("lang", "share"), "language_mix")
    supported = sorted(set(supported))
    default = _band(share_bounds.get("default", (0.0, 1.0)), "default")
    listed = {lang: _band(band, lang) for lang, band in share_bounds.items() if lang != "default"}
    langs = shares_table["lang"].tolist() if shares_table is not None else []
    present = sorted({v for v in langs if isinstance(v, str)})

    out = [
        expectation("expect_column_values_to_not_be_null", column="lang"),
        expectation("expect_column_values_to_be_unique", column="lang"),
        expectation("expect_column_values_to_be_in_set", column="lang", value_set=supported,
                    meta={"notes": "languages only from the supported list"}),
        expectation("expect_column_values_to_be_between", column="share", min_value=0.0, max_value=1.0),
    ]
    if present:
        out.append(expectation("expect_column_sum_to_be_between", column="share",
                               min_value=1.0 - SHARE_SUM_TOLERANCE, max_value=1.0 + SHARE_SUM_TOLERANCE))
    required = sorted(lang for lang, (lo, _) in listed.items() if lo is not None and lo > 0)
    if required:
        out.append(expectation("expect_column_distinct_values_to_contain_set", column="lang",
                               value_set=required, meta={"notes": "languages whose band starts above 0"}))
    for lang in present:
        lo, hi = listed.get(lang, default)
        out += value_between("share", lo, hi, where=("lang", lang),
                             notes=f"{lang} share of kept bytes" + ("" if lang in listed else " (default band)"))
    return out


DRIFT_COLUMNS = ("metric", "check", "move", "allowed")


def drift(drift_table: Any) -> list[dict[str, Any]]:
    """Each value moved from the accepted run by no more than its allowed move (both ways).

    `drift_table`: rows (metric, check, accepted, observed, move, allowed) from
    `expectations.baseline.drift_rows`, one per compared value (one per language for shares); each row
    becomes a band check on `move` in [-allowed, allowed], so Data Docs show every move.
    """
    _require_columns(drift_table, DRIFT_COLUMNS, "drift")
    out = [expectation("expect_column_values_to_be_unique", column="metric")]
    for row in drift_table.to_dict("records"):
        limit = row["allowed"]
        out += value_between("move", -limit, limit, where=("metric", row["metric"]),
                             notes=f"{row['metric']}: accepted {row['accepted']}, observed {row['observed']}")
    return out
