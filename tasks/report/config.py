"""The `report` section of params.yaml, validated once at stage start.

Every path is relative to the project root given to `build_report`, so the same params work in any
checkout. Bad values raise ParamError naming the dotted key (`report.top_languages: ...`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tasks.common.params import ParamError

SECTION = "report"


@dataclass(frozen=True)
class Config:
    plots_dir: str = "reports/plots"              # CSV tables that dvc.yaml `plots:` reference
    metrics_dir: str = "metrics"                  # metrics/<stage>.json of every stage
    data_dir: str = "data"                        # stage outputs (language mix per stage, dedup clusters)
    live_dir: str = "dvclive/pretrain"            # dvclive directory of the pretrain stage
    data_docs: str = "reports/data_docs/index.html"  # Great Expectations Data Docs site
    prefect_ui_url: str | None = None             # None: PREFECT_API_URL minus /api at build time
    top_languages: int = 12                       # languages drawn one by one; the rest become "other"
    max_rows: int = 30                            # longest table shown inline (full data in reports/plots)


def _positive_int(section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(f"{SECTION}.{key}: expected int, got {value!r}")
    if value <= 0:
        raise ParamError(f"{SECTION}.{key}: must be > 0, got {value!r}")
    return value


def _path(section: dict[str, Any], key: str, default: str) -> str:
    value = section.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ParamError(f"{SECTION}.{key}: expected a non-empty path, got {value!r}")
    return value


def config_from_params(section: dict[str, Any] | None) -> Config:
    """Validate the `report` section (None or {} = all defaults); unknown keys are errors (typos)."""
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise ParamError(f"{SECTION}: expected a mapping, got {type(section).__name__}")
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ParamError(f"{SECTION}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    d = Config()
    url = section.get("prefect_ui_url", d.prefect_ui_url)
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise ParamError(f"{SECTION}.prefect_ui_url: expected null or an http(s) URL, got {url!r}")
    return Config(
        plots_dir=_path(section, "plots_dir", d.plots_dir),
        metrics_dir=_path(section, "metrics_dir", d.metrics_dir),
        data_dir=_path(section, "data_dir", d.data_dir),
        live_dir=_path(section, "live_dir", d.live_dir),
        data_docs=_path(section, "data_docs", d.data_docs),
        prefect_ui_url=url.rstrip("/") if url else None,
        top_languages=_positive_int(section, "top_languages", d.top_languages),
        max_rows=_positive_int(section, "max_rows", d.max_rows),
    )
