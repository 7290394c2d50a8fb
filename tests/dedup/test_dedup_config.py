from __future__ import annotations

import pytest

from tasks.common.params import ParamError
from tasks.dedup.config import Config, candidate_probability, config_from_params, lsh_shape


def test_defaults_and_derived_shape():
    cfg = config_from_params({})
    assert cfg == Config()
    bands, rows = cfg.lsh
    assert bands * rows <= cfg.num_perm
    assert candidate_probability(cfg.threshold, bands, rows) >= cfg.recall_target
    # datasketch's balanced optimum at 0.85 / 256 perms misses a pair at Jaccard 0.88 about 30% of the time
    assert candidate_probability(0.88, 13, 19) < 0.75
    assert candidate_probability(0.88, bands, rows) > 0.999


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.85, 0.9, 0.95])
def test_lsh_shape_reaches_recall_target_with_fewest_false_positives(threshold):
    bands, rows = lsh_shape(threshold, 128, 0.99)
    assert candidate_probability(threshold, bands, rows) >= 0.99
    # a shape with one more row per band (fewer false positives) would miss the target
    more_rows = rows + 1
    assert candidate_probability(threshold, 128 // more_rows, more_rows) < 0.99


def test_explicit_bands_rows_override():
    cfg = config_from_params({"bands": 16, "rows": 8, "num_perm": 128})
    assert cfg.lsh == (16, 8)


@pytest.mark.parametrize("section, key", [
    ({"threshold": 0}, "dedup.threshold"),
    ({"threshold": 1.5}, "dedup.threshold"),
    ({"threshold": "high"}, "dedup.threshold"),
    ({"num_perm": 1}, "dedup.num_perm"),
    ({"num_perm": 64.0}, "dedup.num_perm"),
    ({"shingle_size": 0}, "dedup.shingle_size"),
    ({"seed": -1}, "dedup.seed"),
    ({"seed": True}, "dedup.seed"),
    ({"bands": 10}, "dedup.rows"),
    ({"rows": 10}, "dedup.bands"),
    ({"bands": 30, "rows": 10}, "dedup.bands"),
    ({"bands": 1, "rows": 10}, "dedup.bands"),
    ({"verify": "maybe"}, "dedup.verify"),
    ({"rank": ["stars", "forks"]}, "dedup.rank"),
    ({"rank": ["size", "size"]}, "dedup.rank"),
    ({"rank": []}, "dedup.rank"),
    ({"storage": {"type": "redis"}}, "dedup.storage"),  # the LSH index is a file shuffle now, no Redis
    ({"max_bucket": 1}, "dedup.max_bucket"),
    ({"exact_max_bytes": 0}, "dedup.exact_max_bytes"),
    ({"gate": {"dropped_share": [0.5, 0.1]}}, "dedup.gate.dropped_share"),
    ({"gate": {"dropped_share": 0.3}}, "dedup.gate.dropped_share"),
    ({"recall_target": 0}, "dedup.recall_target"),
    ({"treshold": 0.8}, "dedup.treshold"),
])
def test_invalid_values_name_their_key(section, key):
    with pytest.raises(ParamError) as err:
        config_from_params(section)
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_rank_gets_repo_as_final_tie_breaker_and_caps_parse():
    cfg = config_from_params({"rank": ["size", "stars"], "max_bucket": 50, "exact_max_bytes": 1000})
    assert cfg.rank == ("size", "stars", "repo")
    assert (cfg.max_bucket, cfg.exact_max_bytes) == (50, 1000)
