"""The cosine-with-warmup schedule (pretrain's schedule module) and the `sft` params section."""
from __future__ import annotations

import math

import pytest

from tasks.common.params import ParamError
from tasks.pretrain.schedule import phase_lr, plan
from tasks.sft.config import DEEPSEEK_SYSTEM, config_from_params, eval_settings


def test_cosine_schedule_with_linear_warmup() -> None:
    cfg = config_from_params({"lr": "1e-5", "warmup": 4, "steps": 24, "end_lr_ratio": 0.1})
    (planned,) = plan(cfg.train_config(cfg.steps))
    lrs = [phase_lr(planned, s) for s in range(24)]
    assert lrs[:4] == pytest.approx([2.5e-6, 5e-6, 7.5e-6, 1e-5])  # linear warmup to the peak
    assert lrs[4] == pytest.approx(1e-5)
    # transformers' get_cosine_schedule_with_warmup, scaled to the floor: progress over the post-warmup steps
    for s in range(4, 24):
        progress = (s - 4) / 20
        assert lrs[s] == pytest.approx(1e-5 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))))
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))  # monotone decay after warmup
    assert lrs[-1] > 1e-6 and planned.end_lr == pytest.approx(1e-6)
    assert lrs[14] == pytest.approx(1e-5 * 0.55)  # halfway: midpoint between peak and floor


def test_warmup_longer_than_the_run_is_capped() -> None:
    cfg = config_from_params({"warmup": 100, "steps": 5})
    (planned,) = plan(cfg.train_config(5))
    assert planned.phase.warmup == 5
    assert [phase_lr(planned, s) for s in range(5)] == pytest.approx([2e-6, 4e-6, 6e-6, 8e-6, 1e-5])


def test_defaults_follow_the_papers_and_steps_come_from_epochs() -> None:
    cfg = config_from_params({})
    assert (cfg.lr, cfg.warmup, cfg.epochs, cfg.system) == (1e-5, 100, 2.0, DEEPSEEK_SYSTEM)
    assert cfg.total_steps(100) == 25  # 2 epochs of 100 rows, 8 rows per step
    assert config_from_params({"steps": 3}).total_steps(100) == 3
    assert config_from_params({"epochs": 0.5, "batch_size": 4, "grad_accum": 2}).total_steps(10) == 1


@pytest.mark.parametrize("section, key", [
    ({"lr": 0}, "sft.lr"), ({"steps": 0}, "sft.steps"), ({"overlong": "wrap"}, "sft.overlong"),
    ({"device": "tpu"}, "sft.device"), ({"batchsize": 4}, "sft.batchsize"), ({"evaluate": [1]}, "sft.evaluate"),
    ({"end_lr_ratio": 2}, "sft.end_lr_ratio"),
])
def test_bad_values_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(ParamError, match=f"^{key}"):
        config_from_params(section)


def test_eval_settings_lay_sft_overrides_over_the_evaluate_section() -> None:
    params = {"evaluate": {"model_dir": "models/export", "benchmarks": ["humaneval", "val_fim"], "max_new_tokens": 64,
                           "limit": {"humaneval": 8, "mbpp": 8}}}
    cfg = config_from_params({"evaluate": {"benchmarks": ["humaneval", "mbpp"], "limit": {"mbpp": 2}}})
    merged = eval_settings(params, cfg)
    assert merged == {"benchmarks": ["humaneval", "mbpp"], "max_new_tokens": 64, "limit": {"humaneval": 8, "mbpp": 2}}
    assert params["evaluate"]["limit"] == {"humaneval": 8, "mbpp": 8}  # not modified in place
