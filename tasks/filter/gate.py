"""What the filter gate checks: (gate name, table, expectations) triples for expectations.run_gate."""
from __future__ import annotations

from typing import Any

from expectations import suites
from tasks.filter.config import Config
from tasks.filter.metrics import language_share_table, pass_rate_table


def gate_checks(metrics: dict[str, Any], cfg: Config) -> list[tuple[str, Any, list[dict[str, Any]]]]:
    """The pass-rate and language-mix checks of the filter stage's metrics, bands from cfg.gate."""
    rates = pass_rate_table(metrics)
    shares = language_share_table(metrics)
    bounds = {"pass_rate_bytes": list(cfg.gate.pass_rate_bytes), "pass_rate_files": list(cfg.gate.pass_rate_files)}
    return [
        ("filter_pass_rate", rates, suites.filter_pass_rate(bounds, rates)),
        ("filter_language_mix", shares, suites.language_mix(cfg.gate.share_bounds(), cfg.supported(), shares)),
    ]
