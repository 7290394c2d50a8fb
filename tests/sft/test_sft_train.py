"""Tuning a tiny pretrained model on generated instruction rows: the response loss goes down, reruns and
resumed runs write byte-identical files, and the evaluate harness scores the tuned export."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sft_testutil import sft_section, write_instruct

from tasks.pretrain.export import export_hf, load_hf
from tasks.sft import config_from_params
from tasks.sft.train import train
from tasks.tokenizer.special import EOT


def digest_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def tune(root: Path, tokenizer_path: Path, base_dir: Path, instruct: Path, **kw: Any) -> dict[str, Any]:
    cfg = config_from_params(sft_section())
    return train(cfg, instruct, tokenizer_path, root / "train", kw.pop("live", None), base_dir=base_dir, **kw)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, tokenizer_path: Path, base_dir: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sft-run")
    instruct = write_instruct(root / "instruct.jsonl")
    metrics = tune(root / "a", tokenizer_path, base_dir, instruct, live=root / "a" / "live")
    export_hf(root / "a" / "train", tokenizer_path, root / "a" / "export", eos_token=EOT)
    return {"root": root, "instruct": instruct, "metrics": metrics}


def test_tuning_lowers_the_response_loss(tuned: dict[str, Any]) -> None:
    m = tuned["metrics"]
    assert m["steps"] == m["total_steps"] == 12 and m["data"]["examples"] == 6
    assert m["probe"]["loss_after"] < 0.75 * m["probe"]["loss_before"]
    assert m["loss"]["last"] < m["loss"]["first"]
    log = [json.loads(line) for line in (tuned["root"] / "a/train/train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 13))
    assert log[0]["lr"] == pytest.approx(5e-3) and log[1]["lr"] == pytest.approx(1e-2)  # warmup 2, peak 1e-2
    assert m["tokens"] == sum(r["tokens"] - p for r, p in zip(log, [0] + [r["tokens"] for r in log]))
    # dvclive curves for `dvc plots`
    loss_tsv = tuned["root"] / "a/live/plots/metrics/train/loss.tsv"
    assert len(loss_tsv.read_text().splitlines()) == 13


def test_reruns_and_resumed_runs_are_byte_identical(tuned: dict[str, Any], tokenizer_path: Path, base_dir: Path) -> None:
    root, instruct = tuned["root"], tuned["instruct"]
    tune(root / "b", tokenizer_path, base_dir, instruct)
    export_hf(root / "b" / "train", tokenizer_path, root / "b" / "export", eos_token=EOT)
    a, b = digest_tree(root / "a" / "train"), digest_tree(root / "b" / "train")
    assert any(k.endswith(".pt") for k in a) and a == b
    assert digest_tree(root / "a" / "export") == digest_tree(root / "b" / "export")

    killed = tune(root / "c", tokenizer_path, base_dir, instruct, stop_after=6)  # checkpoint at step 4
    assert killed["steps"] == 6
    resumed = tune(root / "c", tokenizer_path, base_dir, instruct)
    assert resumed["resumed_from_step"] == 4 and resumed["steps"] == 12
    assert resumed["probe"] == tuned["metrics"]["probe"] and resumed["loss"] == tuned["metrics"]["loss"]
    assert digest_tree(root / "c" / "train") == a


def test_import_of_the_export_matches_transformers(base_dir: Path) -> None:
    import torch
    from transformers import LlamaForCausalLM

    from tasks.pretrain.model import Transformer

    mcfg, state = load_hf(base_dir)
    ours = Transformer(mcfg)
    ours.load_state_dict(state)
    hf = LlamaForCausalLM.from_pretrained(base_dir).eval()
    tokens = torch.tensor([[0, 7, 9, 11, 40, 3, 5]])
    with torch.no_grad():
        assert torch.allclose(ours.eval()(tokens), hf(tokens).logits, atol=1e-5)


def test_export_ends_turns_with_eot_and_the_harness_scores_it(tuned: dict[str, Any], tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from tasks.evaluate import config_from_params as eval_config, evaluate

    export = tuned["root"] / "a" / "export"
    tok = AutoTokenizer.from_pretrained(str(export))
    assert tok.eos_token == EOT
    config = json.loads((export / "config.json").read_text())
    assert config["eos_token_id"] == tok.convert_tokens_to_ids(EOT)
    cfg = eval_config({"benchmarks": ["humaneval", "val_ppl"], "limit": {"humaneval": 1}, "max_new_tokens": 4,
                       "batch_size": 1, "workers": 1, "validation": {"packed_dir": None}})
    metrics = evaluate(export, cfg, tmp_path / "eval")
    assert metrics["errors"] == [] and metrics["benchmarks"]["humaneval"]["n_problems"] == 1
    assert "humaneval_pass@1" in metrics["summary"] and metrics["skipped"] == ["val_ppl: no packed split at None"]
