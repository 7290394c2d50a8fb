"""Profiles: profiles/paper.yaml laid over params.yaml gives the paper's settings, every stage still validates
them, nothing outside the profile changes, and params.yaml keeps its comments (DVC tracks the result)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from flows.profile import main, profile_path, render
from tests.support.project import ROOT


def comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def leaves(node: object, prefix: str = "") -> dict[str, object]:
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for key, value in node.items():
            out.update(leaves(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): node}


def test_an_empty_profile_changes_nothing_and_keeps_the_comments(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    text, diff = render(ROOT / "params.yaml", empty)
    original = (ROOT / "params.yaml").read_text()
    assert diff == [] and yaml.safe_load(text) == yaml.safe_load(original)
    assert comments(text) == comments(original)


def test_the_paper_profile_gives_the_papers_settings(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    assert main(["apply", "paper", "--params", str(params)]) == 0
    before, after = yaml.safe_load((ROOT / "params.yaml").read_text()), yaml.safe_load(params.read_text())

    from tasks.evaluate.config import config_from_params as evaluate_config
    from tasks.pack.config import config_from_params as pack_config
    from tasks.pretrain.config import config_from_params as pretrain_config
    from tasks.tokenizer.config import config_from_params as tokenizer_config

    assert tokenizer_config(after["tokenizer"]).vocab_size == 32000
    assert pack_config(after["pack"]).seq_len == 4096
    train = pretrain_config(after["pretrain"])
    assert train.model == "deepseek-coder-1.3b" and train.lr == 5.3e-4 and train.warmup == 2000
    assert train.batch_size * train.grad_accum == 1024
    main_phase, long_phase = train.phases
    assert (main_phase.seq_len, main_phase.warmup) == (4096, 2000)
    assert (long_phase.steps, long_phase.seq_len, long_phase.batch_size * long_phase.grad_accum) == (1000, 16384, 512)
    evaluation = {k: v for k, v in after["evaluate"].items() if k != "model_dir"}
    cfg = evaluate_config(evaluation)
    assert all(cfg.limit_for(b) is None for b in cfg.benchmarks)  # the full sets
    assert cfg.temperature == 0 and cfg.n_samples == 1 and cfg.k == (1,)
    assert (cfg.tokens_for("humaneval"), cfg.tokens_for("mbpp"), cfg.tokens_for("leetcode")) == (500, 500, 1024)

    # nothing outside the profile moved, and the file still explains itself
    overlay = leaves(yaml.safe_load(profile_path("paper").read_text()))
    changed = {k for k, v in leaves(after).items() if leaves(before).get(k, object()) != v}
    changed |= set(leaves(before)) - set(leaves(after))
    assert all(any(k == o or k.startswith(o + ".") for o in overlay) for k in changed), sorted(changed)
    kept = [c for c in comments((ROOT / "params.yaml").read_text()) if not re.search(r"phases|long_context", c)]
    assert set(kept) <= set(comments(params.read_text()))
