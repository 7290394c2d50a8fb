"""Repository-level near-deduplication (DeepSeek-Coder §2.3): MinHash + LSH over whole repositories.

Flow (the lead's Prefect flow fans the shard functions out):
  signatures_shard(ordered shard -> signature shard)   per shard, in workers
  [reset_index, then index_shard per shard]            optional: workers fill a shared Redis index,
                                                        then cluster(..., index_prebuilt=True)
  cluster(signature shards) -> (cluster rows, drop set, stats)
  apply_shard(ordered shard -> deduped shard, drop set) per shard
  aggregate(...) -> metrics/dedup.json
"""
from tasks.dedup.accuracy import accuracy_check
from tasks.dedup.cluster import CLUSTER_SCHEMA, cluster, write_clusters
from tasks.dedup.config import Config, StorageConfig, config_from_params, lsh_shape
from tasks.dedup.index import index_shard, insert_signatures, open_index, reset_index
from tasks.dedup.metrics import aggregate
from tasks.dedup.shards import ShardShingleLoader, apply_shard, shard_shingle_loader, signatures_shard

__all__ = [
    "CLUSTER_SCHEMA", "Config", "ShardShingleLoader", "StorageConfig", "accuracy_check", "aggregate",
    "apply_shard", "cluster", "config_from_params", "index_shard", "insert_signatures", "lsh_shape",
    "open_index", "reset_index", "shard_shingle_loader", "signatures_shard", "write_clusters",
]

