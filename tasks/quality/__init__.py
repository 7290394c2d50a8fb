"""Quality stage (DeepSeek-Coder §2.4): quality screening and test-set decontamination.

data/deduped -> data/clean (bad files removed from their samples, text re-rendered; samples left
empty are dropped) + data/quality_decisions (one row per removed file with its reason).

Public API (plain Python, no Prefect/DVC):
- `config_from_params(section) -> Config`
- `build_benchmark_index(cfg, cache_dir) -> Path` (once per run, before fanning out)
- `quality_shard(in_path, out_path, decisions_path, cfg, index_path=None) -> stats`
- `aggregate(stats) -> metrics`, `contamination_rows(stats) -> rows`, `check_gate(metrics, cfg)`
- `QualityScorer`, `HashedNgramLogReg`, `load_scorer` (optional learned filter)
"""
from tasks.quality.config import Config, config_from_params
from tasks.quality.decontam import build_benchmark_index, load_index
from tasks.quality.scorer import HashedNgramLogReg, QualityScorer, load_scorer
from tasks.quality.shard import DECISIONS_SCHEMA, aggregate, check_gate, contamination_rows, quality_partition, quality_shard

__all__ = [
    "Config", "config_from_params", "build_benchmark_index", "load_index", "quality_partition", "quality_shard", "aggregate",
    "contamination_rows", "check_gate", "DECISIONS_SCHEMA", "QualityScorer", "HashedNgramLogReg",
    "load_scorer",
]
