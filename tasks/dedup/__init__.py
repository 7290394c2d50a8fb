"""Repository-level near-deduplication (DeepSeek-Coder §2.3): MinHash + LSH over whole repositories.

As partition jobs (flows/dedup.py runs them on the task runner):
  signatures_job   data/ordered partition -> signature partition + LSH band keys
  candidates_job   one routing range of every partition's band keys -> candidate pairs
  verify_job       one partition's candidate pairs -> similar pairs (estimate, then exact Jaccard)
  components_job   every similar pair -> clusters table + drops (best repo of each cluster kept)
  apply_job        data/ordered partition -> data/deduped partition
  aggregate(...) -> metrics/dedup.json
"""
from tasks.dedup.accuracy import accuracy_check
from tasks.dedup.cluster import CLUSTER_SCHEMA, apply_job, components_job, verify_job
from tasks.dedup.config import Config, config_from_params, lsh_shape
from tasks.dedup.lsh import candidates_job
from tasks.dedup.metrics import aggregate
from tasks.dedup.shards import apply_shard, signatures_job, signatures_shard

__all__ = [
    "CLUSTER_SCHEMA", "Config", "accuracy_check", "aggregate", "apply_job", "apply_shard", "candidates_job",
    "components_job", "config_from_params", "lsh_shape", "signatures_job", "signatures_shard", "verify_job",
]
