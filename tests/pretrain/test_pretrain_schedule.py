"""Learning-rate schedule at its break points, and params validation naming the key."""
from __future__ import annotations

import math

import pytest

from tasks.common.params import ParamError
from tasks.pretrain.config import config_from_params
from tasks.pretrain.schedule import break_steps, lr_at, plan


def test_pretrain_step_schedule_break_points() -> None:
    cfg = config_from_params({"steps": 100, "lr": 4e-4, "warmup": 10})
    peak = 4e-4
    assert lr_at(cfg, 0) == pytest.approx(peak / 10)
    assert lr_at(cfg, 4) == pytest.approx(peak * 5 / 10)
    assert lr_at(cfg, 9) == pytest.approx(peak)
    assert lr_at(cfg, 79) == pytest.approx(peak)
    assert lr_at(cfg, 80) == pytest.approx(peak * math.sqrt(0.1))
    assert lr_at(cfg, 89) == pytest.approx(peak * math.sqrt(0.1))
    assert lr_at(cfg, 90) == pytest.approx(peak * 0.1)
    assert lr_at(cfg, 99) == pytest.approx(peak * 0.1)
    with pytest.raises(IndexError):
        lr_at(cfg, 100)


def test_pretrain_configurable_break_points() -> None:
    cfg = config_from_params({"steps": 30, "lr": 1.0, "warmup": 0, "decay_points": [0.5], "min_lr_ratio": 0.25})
    assert break_steps(cfg.phases[0]) == [15]
    assert [lr_at(cfg, s) for s in (0, 14, 15, 29)] == pytest.approx([1.0, 1.0, 0.25, 0.25])


def test_pretrain_phases_cooldown_and_long_context() -> None:
    cfg = config_from_params({"lr": 1e-3, "warmup": 2, "phases": [
        {"name": "main", "steps": 20},
        {"name": "long_context", "steps": 5, "schedule": "constant", "seq_len": 64,
         "rope_theta": 100000, "rope_scaling": 4},
        {"name": "cooldown", "split": "cooldown", "steps": 10, "schedule": "linear"},
        {"name": "off", "steps": 0, "schedule": "constant"},
    ]})
    phases = plan(cfg)
    assert [p.phase.name for p in phases] == ["main", "long_context", "cooldown"]
    assert cfg.total_steps == 35
    end_main = 1e-3 * 0.1
    assert lr_at(cfg, 19) == pytest.approx(end_main)
    assert [lr_at(cfg, s) for s in (20, 24)] == pytest.approx([end_main, end_main])  # inherits, constant
    assert lr_at(cfg, 25) == pytest.approx(end_main)  # cool-down starts where the last phase ended
    assert lr_at(cfg, 30) == pytest.approx(end_main * 0.5)
    assert lr_at(cfg, 34) == pytest.approx(end_main * 0.1)  # ...and decays linearly to 0 at the end
    assert phases[2].end_lr == 0.0
    assert phases[1].phase.rope_theta == 100000 and phases[1].phase.rope_scaling == 4


@pytest.mark.parametrize("section, key", [
    ({"lr": -1}, "pretrain.lr"),
    ({"steps": 0}, "pretrain.steps"),
    ({"lrr": 1}, "pretrain.lrr"),
    ({"device": "tpu"}, "pretrain.device"),
    ({"decay_points": [0.9, 0.8]}, "pretrain.decay_points"),
    ({"decay_points": [1.5]}, "pretrain.decay_points[0]"),
    ({"phases": [{"name": "a", "steps": 1}, {"name": "b", "steps": 2, "schedule": "cosine"}]}, "pretrain.phases[1].schedule"),
    ({"phases": [{"name": "a", "steps": 1}, {"name": "a", "steps": 2}]}, "pretrain.phases"),
    ({"phases": [{"name": "a", "steps": 1, "seq_len": 0}]}, "pretrain.phases[0].seq_len"),
    ({"phases": [{"name": "a", "steps": 1, "rope_base": 5}]}, "pretrain.phases[0].rope_base"),
    ({"phases": [{"name": "a", "steps": 0}]}, "pretrain.phases"),
])
def test_pretrain_params_errors_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(ParamError) as err:
        config_from_params(section)
    assert str(err.value).startswith(key + ":"), str(err.value)
