"""train(): metrics and logs, phases, and resume after a kill continuing the same loss curve exactly."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from pretrain_testutil import read_log, tiny_section

from tasks.pretrain.checkpoint import latest_checkpoint, load_checkpoint
from tasks.pretrain.config import config_from_params
from tasks.pretrain.train import train


def _tsv_steps(live: Path, name: str) -> list[int]:
    with open(live / "plots" / "metrics" / f"{name}.tsv", encoding="utf-8") as fh:
        return [int(row["step"]) for row in csv.DictReader(fh, delimiter="\t")]


def test_pretrain_resume_after_kill_matches_uninterrupted(tmp_path: Path, packed_dir: Path, tokenizer_path: Path) -> None:
    cfg = config_from_params(tiny_section(steps=8, checkpoint_every=3, eval_every=2))
    full = train(cfg, packed_dir, tokenizer_path, tmp_path / "full", tmp_path / "live_full")
    # "kill" after step 5: the last checkpoint is step 3, steps 4-5 are lost and must be redone
    killed = train(cfg, packed_dir, tokenizer_path, tmp_path / "run", tmp_path / "live_run", stop_after=5)
    assert killed["steps"] == 5
    assert latest_checkpoint(tmp_path / "run" / "checkpoints").name == "step-00000003.pt"
    resumed = train(cfg, packed_dir, tokenizer_path, tmp_path / "run", tmp_path / "live_run")
    assert resumed["resumed_from_step"] == 3 and resumed["steps"] == 8

    a, b = read_log(tmp_path / "full"), read_log(tmp_path / "run")
    assert [r["step"] for r in b] == list(range(1, 9))
    for ra, rb in zip(a, b):
        assert (ra["loss"], ra["lr"], ra.get("val_loss")) == (rb["loss"], rb["lr"], rb.get("val_loss")), ra["step"]
    assert a[-1]["loss"] < a[0]["loss"]
    assert resumed["train_loss"] == full["train_loss"] and resumed["val_loss"] == full["val_loss"]
    assert resumed["tokens"] == full["tokens"] == 8 * 2 * 2 * 16
    wa = load_checkpoint(latest_checkpoint(tmp_path / "full" / "checkpoints"))["model"]
    wb = load_checkpoint(latest_checkpoint(tmp_path / "run" / "checkpoints"))["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # dvclive curves: one row per step even though steps 4-5 ran twice
    assert _tsv_steps(tmp_path / "live_run", "train/loss") == list(range(1, 9))
    assert _tsv_steps(tmp_path / "live_run", "val/loss") == [2, 4, 6, 8]


def test_pretrain_phases_run_in_order(tmp_path: Path, packed_dir: Path, tokenizer_path: Path) -> None:
    long = {"seq_len": 32, "rope_theta": 100000, "rope_scaling": 4, "batch_size": 1}
    cfg = config_from_params(tiny_section(lr=2e-3, warmup=1, checkpoint_every=100, eval_every=0, phases=[
        {"name": "main", "steps": 4},
        {"name": "long_context", "steps": 2, "schedule": "constant", **long},
        {"name": "cooldown", "split": "cooldown", "steps": 2, "schedule": "linear", **long},
    ]))
    metrics = train(cfg, packed_dir, tokenizer_path, tmp_path / "out", None)
    log = read_log(tmp_path / "out")
    assert [r["phase"] for r in log] == ["main"] * 4 + ["long_context"] * 2 + ["cooldown"] * 2
    end_main = 2e-3 * 0.1
    assert [r["lr"] for r in log[4:]] == pytest.approx([end_main, end_main, end_main, end_main / 2])
    assert metrics["phases"]["long_context"]["seq_len"] == 32 and metrics["phases"]["main"]["seq_len"] == 16
    assert metrics["tokens"] == 4 * 2 * 2 * 16 + 4 * 1 * 2 * 32
    assert all("val_loss" in log[i] for i in (3, 5, 7))  # evaluated at each phase end
    state = load_checkpoint(latest_checkpoint(tmp_path / "out" / "checkpoints"))
    assert state["rope"] == {"theta": 100000.0, "scaling": 4.0} and state["step"] == 8
    assert state["data"]["consumed"] == {"main": 16, "long_context": 4, "cooldown": 4}
    for key in ("train_loss", "val_loss", "tokens_per_s", "mfu", "wall_time_s", "params"):
        assert metrics[key] is not None and metrics[key] > 0, key


def test_pretrain_missing_split_fails_before_training(tmp_path: Path, packed_dir: Path, tokenizer_path: Path) -> None:
    cfg = config_from_params(tiny_section(phases=[{"name": "main", "steps": 2},
                                                  {"name": "extra", "split": "nope", "steps": 1}]))
    with pytest.raises(FileNotFoundError, match="'extra'.*'nope'"):
        train(cfg, packed_dir, tokenizer_path, tmp_path / "out", None)
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_pretrain_changed_config_starts_afresh(tmp_path: Path, packed_dir: Path, tokenizer_path: Path) -> None:
    out = tmp_path / "out"
    train(config_from_params(tiny_section(steps=4, checkpoint_every=2)), packed_dir, tokenizer_path, out, None,
          stop_after=3)
    # a reporting-only change resumes...
    again = train(config_from_params(tiny_section(steps=4, checkpoint_every=2, eval_every=1)), packed_dir,
                  tokenizer_path, out, None, stop_after=3)
    assert again["resumed_from_step"] == 2
    # ...a change to what is trained does not reuse the old checkpoint
    fresh = train(config_from_params(tiny_section(steps=4, checkpoint_every=2, lr=1e-3)), packed_dir,
                  tokenizer_path, out, None)
    assert fresh["resumed_from_step"] is None and fresh["steps"] == 4
    assert [r["step"] for r in read_log(out)] == [1, 2, 3, 4]


def test_continual_pretraining_starts_from_the_last_finished_weights(tmp_path: Path, packed_dir: Path,
                                                                      tokenizer_path: Path) -> None:
    """pretrain.continual: the next night (other data: here another seed) goes on from the finished run's
    weights with a fresh optimizer and schedule; without it, the same run starts from scratch."""
    out = tmp_path / "out"
    first = train(config_from_params(tiny_section(steps=8)), packed_dir, tokenizer_path, out, None)
    assert first["continued_from"] is None
    train(config_from_params(tiny_section(steps=2, seed=11)), packed_dir, tokenizer_path, tmp_path / "scratch", None)
    night2 = train(config_from_params(tiny_section(steps=2, seed=11, continual=True)), packed_dir, tokenizer_path,
                   out, None)
    assert night2["continued_from"]["step"] == 8 and night2["resumed_from_step"] is None
    first_loss = {run: read_log(path)[0]["loss"] for run, path in (("scratch", tmp_path / "scratch"), ("night2", out))}
    assert first_loss["night2"] < first_loss["scratch"] - 0.5  # it already knows the data
    assert [r["step"] for r in read_log(out)] == [1, 2]
