"""Stage `redact` (beyond the paper; StarCoder / The Stack v2): secrets and personal data in every kept
file replaced by typed placeholders before anything is ordered, deduplicated or tokenized.

The detectors and the redaction are tasks.governance's (detect-secrets' plugins plus patterns for what
they miss, with false-positive guards); this package is the partitioned stage around them:
`redact_partition` (one data/filtered partition -> data/redacted + its findings), `aggregate`
(metrics/redact.json), `config_from_params` (the `redact` section of params.yaml).
"""
from tasks.redact.config import Config, config_from_params
from tasks.redact.shard import FINDINGS_SCHEMA, aggregate, redact_partition, redact_text

__all__ = ["Config", "FINDINGS_SCHEMA", "aggregate", "config_from_params", "redact_partition", "redact_text"]
