"""A model config brings its own training recipe (lr, batch, warmup, schedule); params.yaml overrides it only
where it sets a value, and the default run (model: small) trains exactly as before the recipes existed."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tasks.common.params import ParamError, load_params
from tasks.pretrain.config import CONFIG_DIR, RECIPE_KEYS, config_from_params
from tests.support.project import ROOT

PAPER = {"deepseek-coder-1.3b": (5.3e-4, 1024), "deepseek-coder-6.7b": (4.2e-4, 2304),
         "deepseek-coder-33b": (3.5e-4, 3840)}


def params_section(**changes: object) -> dict:
    section = dict(load_params(ROOT / "params.yaml")["pretrain"])
    section.update(changes)
    return section


def test_default_run_keeps_its_settings() -> None:
    cfg = config_from_params(params_section())
    assert cfg.model == "small"
    assert (cfg.lr, cfg.batch_size, cfg.grad_accum, cfg.warmup, cfg.min_lr_ratio, cfg.decay_points) == (
        2e-3, 8, 1, 12, 0.1, (0.8, 0.9))
    assert cfg.phases[0].name == "main" and cfg.phases[0].warmup == 12
    # the same TrainConfig as the explicit values params.yaml carried before the recipes
    explicit = params_section(batch_size=8, grad_accum=1, lr=2.0e-3, min_lr_ratio=0.1, warmup=12,
                              decay_points=[0.8, 0.9])
    assert config_from_params(explicit) == cfg


@pytest.mark.parametrize("model", sorted(PAPER))
def test_a_paper_model_brings_the_papers_recipe(model: str) -> None:
    lr, sequences = PAPER[model]
    cfg = config_from_params(params_section(model=model))
    assert cfg.lr == pytest.approx(lr) and cfg.batch_size * cfg.grad_accum == sequences
    assert cfg.warmup == 2000 and cfg.phases[0].warmup == 2000  # the main phase's warmup_step schedule
    assert (cfg.min_lr_ratio, cfg.decay_points) == (0.1, (0.8, 0.9))
    reference = yaml.safe_load((CONFIG_DIR / f"{model}.yaml").read_text())["reference"]
    assert reference["batch_size_sequences"] == sequences


def test_an_explicit_value_in_params_wins_over_the_recipe() -> None:
    cfg = config_from_params(params_section(model="deepseek-coder-1.3b", lr=1e-4, grad_accum=4))
    assert cfg.lr == 1e-4 and cfg.grad_accum == 4
    assert cfg.batch_size == 8 and cfg.warmup == 2000  # the rest still from the recipe
    left_out = {k: v for k, v in params_section(model="deepseek-coder-1.3b").items() if k not in RECIPE_KEYS}
    assert config_from_params(left_out).lr == pytest.approx(5.3e-4)  # absent = null


def test_a_model_without_recipe_falls_back_to_the_defaults() -> None:
    cfg = config_from_params({"model": "tiny", "lr": None, "warmup": None})
    assert (cfg.lr, cfg.warmup, cfg.batch_size) == (1e-3, 20, 8)


def test_bad_recipes_and_models_name_the_key(tmp_path: Path) -> None:
    custom = tmp_path / "custom.yaml"
    custom.write_text("dim: 32\nn_layers: 2\nn_heads: 4\nintermediate_size: 96\nrecipe: {lr: 1.0e-3, steps: 9}\n")
    with pytest.raises(ParamError, match=r"^pretrain\.model: .*recipe keys \['steps'\]"):
        config_from_params({"model": str(custom)})
    custom.write_text("dim: 32\nn_layers: 2\nn_heads: 4\nintermediate_size: 96\nrecipe: {lr: -1.0}\n")
    with pytest.raises(ParamError, match=r"^pretrain\.lr"):
        config_from_params({"model": str(custom)})
    with pytest.raises(ParamError, match=r"^pretrain\.model: model config 'nope' not found"):
        config_from_params({"model": "nope"})
