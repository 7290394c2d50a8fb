"""Harness settings: defaults, overrides, and every bad value named by its dotted key."""
from __future__ import annotations

import pytest

from benchmarks.config import ROWS, TARGETS, config_from_params
from tasks.common.params import ParamError


def test_defaults_measure_every_row_three_times_at_three_scales():
    cfg = config_from_params(None)
    assert cfg.reps == 3 and cfg.scales == (1, 2, 4) and cfg.rows == ROWS
    assert set(TARGETS) == set(ROWS)


def test_values_are_taken_and_scales_sorted():
    cfg = config_from_params({"reps": 5, "scales": [4, 1, 2, 2], "rows": ["pack"], "evaluate_limit": None,
                              "pretrain_seq_len": 64, "peers": False})
    assert (cfg.reps, cfg.scales, cfg.rows, cfg.evaluate_limit, cfg.pretrain_seq_len, cfg.peers) == \
        (5, (1, 2, 4), ("pack",), None, 64, False)


@pytest.mark.parametrize("section, key", [
    ({"reps": 0}, "benchmarks.reps"),
    ({"reps": True}, "benchmarks.reps"),
    ({"scales": [2, 4]}, "benchmarks.scales"),
    ({"scales": [1, 0]}, "benchmarks.scales[1]"),
    ({"rows": ["filter", "speed"]}, "benchmarks.rows[1]"),
    ({"evaluate_limit": 0}, "benchmarks.evaluate_limit"),
    ({"pretrain_batch_size": -1}, "benchmarks.pretrain_batch_size"),
    ({"peers": "yes"}, "benchmarks.peers"),
    ({"repetitions": 3}, "benchmarks.repetitions"),
])
def test_bad_values_name_their_key(section, key):
    with pytest.raises(ParamError) as err:
        config_from_params(section)
    assert str(err.value).startswith(key + ":")
