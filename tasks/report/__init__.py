"""Report stage: what a user sees after a run — one static HTML page (funnel, language mix, drop
reasons, dedup clusters, loss curve, eval table, links to Data Docs and Prefect) and the CSV tables
under reports/plots/ that dvc.yaml `plots:` draw.

Public API (plain Python, no Prefect/DVC):
- `config_from_params(section) -> Config`
- `build_report(root=".", out="reports/index.html", cfg=None) -> dict` (the whole stage, one process)
- `aggregate(result) -> metrics` (metrics/report.json)
"""
from tasks.report.build import aggregate, build_report
from tasks.report.config import Config, config_from_params

__all__ = ["Config", "config_from_params", "build_report", "aggregate"]
