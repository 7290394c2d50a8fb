"""Two runs with the same config and data write byte-identical checkpoint dirs (DVC hashes them):
no wall-clock time or throughput may leak into models/pretrain."""
from __future__ import annotations

import hashlib
from pathlib import Path

from pretrain_testutil import build_tokenizer, tiny_section, write_split

from tasks.pretrain import config_from_params
from tasks.pretrain.train import train


def digest_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_checkpoint_dir_is_byte_identical_across_runs(tmp_path: Path) -> None:
    tok = build_tokenizer(tmp_path / "tok.json")
    write_split(tmp_path / "packed/train", 64, 32, 1)
    write_split(tmp_path / "packed/val", 8, 32, 2)
    speed = tmp_path / "speed.jsonl"
    for name in ("a", "b"):
        train(config_from_params(tiny_section()), tmp_path / "packed", tok, tmp_path / name, None, speed_log=speed)
    a, b = digest_tree(tmp_path / "a"), digest_tree(tmp_path / "b")
    assert any(k.endswith(".pt") for k in a)
    assert a == b
    assert "tokens_per_s" in speed.read_text()  # the speed figures went to the side log instead
    # Python's global random is shared with the process's other threads (Prefect clients draw from it at
    # run-dependent times): a checkpoint holding its state differed between two `dvc repro` runs
    import torch

    ckpt = sorted((tmp_path / "a").rglob("*.pt"))[-1]
    assert set(torch.load(ckpt, weights_only=False)["rng"]) == {"torch", "numpy"}


def test_rerun_over_a_finished_run_trains_again(tmp_path: Path) -> None:
    """DVC reruns the stage only when an input changed (say the code): a finished run's checkpoint must
    not be 'resumed' into zero steps with empty curves; the run starts afresh and logs every step."""
    tok = build_tokenizer(tmp_path / "tok.json")
    write_split(tmp_path / "packed/train", 64, 32, 1)
    write_split(tmp_path / "packed/val", 8, 32, 2)
    cfg = config_from_params(tiny_section())
    first = train(cfg, tmp_path / "packed", tok, tmp_path / "out", tmp_path / "live")
    before = digest_tree(tmp_path / "out")
    second = train(cfg, tmp_path / "packed", tok, tmp_path / "out", tmp_path / "live")
    assert second["steps"] == first["steps"] > 0 and second.get("resumed_from_step") in (None, 0)
    assert digest_tree(tmp_path / "out") == before
    assert (tmp_path / "live" / "plots" / "metrics" / "train" / "loss.tsv").exists()
