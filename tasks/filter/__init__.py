"""Filter stage (DeepSeek-Coder §2.1): drop files by line length, alphabetic share, XML header, HTML
visible text and JSON/YAML size, recording the first failed rule of each dropped file.

Public API: `Config`, `config_from_params`, `filter_shard` (per shard, for worker processes),
`aggregate` (stage metrics), `decide` / `decide_column` (the rules on texts), `gate_checks`.
"""
from tasks.filter.config import Config, GateConfig, config_from_params
from tasks.filter.gate import gate_checks
from tasks.filter.metrics import aggregate, language_share_table, pass_rate_table
from tasks.filter.rules import REASONS, RULE_ORDER, decide, decide_column
from tasks.filter.shard import filter_shard

__all__ = ["Config", "GateConfig", "config_from_params", "filter_shard", "aggregate", "decide",
           "decide_column", "gate_checks", "pass_rate_table", "language_share_table", "REASONS", "RULE_ORDER"]
