"""Quality gates between stages: validate a small table with Great Expectations, build Data Docs.

A gate is a named suite checked against a pandas DataFrame of a stage's decisions or metrics (never
the raw text). The GX project is a file-mode context under `<reports_dir>/gx` (suites, validation
definitions, checkpoints and the history of results, so Data Docs show every run), and its Data
Docs site writes static HTML to `<reports_dir>/data_docs/` (index.html is what the flow links).
GX is imported inside the functions only: it costs seconds to import.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DATASOURCE = "gates"
SITE = "reports"
DOCS_DIR = "data_docs"


@dataclass
class GateResult:
    success: bool
    name: str
    # one dict per expectation: expectation, column, condition, observed, bounds, success
    results: list[dict[str, Any]] = field(default_factory=list)
    docs_path: str | None = None
    mode: str = "enforce"  # enforce: a failure fails the stage | warn: it is reported, the stage completes
    notes: list[str] = field(default_factory=list)  # what the gate did not check, and why

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["success"]]

    def outcome(self) -> str:
        if not self.success:
            return "FAILED" if self.mode == "enforce" else "FAILED (warn mode: reported, the stage goes on)"
        return "passed" if self.results else "not checked"

    def summary(self) -> str:
        lines = [f"gate {self.name}: {self.outcome()} "
                 f"({len(self.results) - len(self.failures())}/{len(self.results)} expectations met)"]
        for r in self.failures():
            where = f" where {r['condition']}" if r.get("condition") else ""
            lines.append(f"  - {r['expectation']}({r.get('column')}){where}: observed {r['observed']!r}, "
                         f"expected {r['bounds']}")
        lines += [f"  note: {note}" for note in self.notes]
        if self.docs_path:
            lines.append(f"  Data Docs: {self.docs_path}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record of the gate (reports/gates/<name>.json)."""
        return {**asdict(self), "outcome": self.outcome()}


class GateFailed(Exception):
    """A gate's expectations were not met; `.result` has the details."""

    def __init__(self, result: GateResult) -> None:
        super().__init__(result.summary())
        self.result = result


def enforce(result: GateResult) -> GateResult:
    """Raise GateFailed when the gate failed in enforce mode (the flow lets it fail the stage); else return it."""
    if not result.success and result.mode != "warn":
        raise GateFailed(result)
    return result


def _plain(value: Any) -> Any:
    """JSON-friendly copy of an observed value (numpy scalars, NaN, nested lists)."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            value = str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _condition_text(condition: Any) -> str | None:
    if condition is None:
        return None
    if isinstance(condition, dict) and condition.get("type") == "comparison":
        return f"{condition['column']['name']} {condition['operator']} {condition['parameter']!r}"
    column = getattr(getattr(condition, "column", None), "name", None)
    if column is not None:
        op = getattr(condition.operator, "value", condition.operator)
        return f"{column} {op} {condition.parameter!r}"
    return str(condition)


def _bounds(kwargs: dict[str, Any]) -> dict[str, Any]:
    keys = ("min_value", "max_value", "value", "value_set")
    return {k: _plain(kwargs[k]) for k in keys if k in kwargs}


def _observed(result: Any) -> Any:
    info = getattr(result, "exception_info", None) or {}
    if info.get("raised_exception"):
        return f"error: {info.get('exception_message')}"
    res = result.result or {}
    if res.get("observed_value") is not None:
        return _plain(res["observed_value"])
    if "unexpected_list" in res or "partial_unexpected_list" in res:
        return {"unexpected": _plain(res.get("unexpected_list", res.get("partial_unexpected_list")))}
    if res.get("details"):
        return _plain(res["details"])
    return None


def _to_gx(expectations: list[Any]) -> list[Any]:
    from great_expectations.expectations.expectation import Expectation
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    out = []
    for e in expectations:
        if isinstance(e, Expectation):
            out.append(e)
        else:
            out.append(ExpectationConfiguration(type=e["type"], kwargs=dict(e.get("kwargs", {})),
                                                meta=dict(e.get("meta", {}))).to_domain_obj())
    return out


def _context(reports_dir: Path) -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    reports_dir.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(reports_dir))
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": os.path.join("..", DOCS_DIR) + os.sep},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    if SITE not in ctx.list_data_docs_sites():
        ctx.add_data_docs_site(site_name=SITE, site_config=site)
    bars = ctx.variables.progress_bars
    if bars is None or (bars.get("globally", True) if isinstance(bars, dict) else bars.globally):
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        ctx.variables.save()
    return ctx


def _batch_definition(ctx: Any, name: str) -> Any:
    try:
        source = ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        source = ctx.data_sources.add_pandas(name=DATASOURCE)
    try:
        asset = source.get_asset(name)
    except (KeyError, LookupError):
        asset = source.add_dataframe_asset(name=name)
    try:
        return asset.get_batch_definition(name)
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe(name)


def run_gate(name: str, df: Any, expectations: list[Any], reports_dir: str, mode: str = "enforce",
             notes: list[str] | tuple[str, ...] = ()) -> GateResult:
    """Validate `df` against the suite `name` (built from `expectations`) and rebuild Data Docs.

    `expectations`: dicts from `expectations.suites` or GX Expectation objects. The suite, validation
    definition and checkpoint are stored (add_or_update) under `<reports_dir>/gx`, named after the gate.
    `mode` and `notes` are carried in the result (`enforce` acts on the mode).
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    root = Path(reports_dir).resolve()
    ctx = _context(root)
    batch = _batch_definition(ctx, name)
    suite = ctx.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=_to_gx(expectations)))
    validation = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
        name=name, validation_definitions=[validation], result_format="COMPLETE",
        actions=[UpdateDataDocsAction(name="data_docs", site_names=[SITE])]))
    run = checkpoint.run(batch_parameters={"dataframe": df})

    results = []
    for suite_result in run.run_results.values():
        for r in suite_result.results:
            cfg = r.expectation_config
            kwargs = dict(cfg.kwargs)
            results.append({
                "expectation": cfg.type,
                "column": kwargs.get("column"),
                "condition": _condition_text(kwargs.get("row_condition")),
                "observed": _observed(r),
                "bounds": _bounds(kwargs),
                "success": bool(r.success),
            })
    from expectations.offline_docs import localise

    localise(root / DOCS_DIR)
    index = root / DOCS_DIR / "index.html"
    return GateResult(success=bool(run.success), name=name, results=results,
                      docs_path=str(index) if index.exists() else None, mode=mode, notes=list(notes))
