"""The `sft` flow in a scratch project: off by default (empty instruct.jsonl -> markers, {"enabled": false}
and a note on how to enable), and on: tune, export, evaluate with the evaluate harness, metrics next to
the base model's scores, Prefect artifacts."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from sft_testutil import sft_section, write_instruct


def project(root: Path, tokenizer_path: Path, base_dir: Path, rows: bool) -> Path:
    shutil.copytree(tokenizer_path.parent, root / "models/tokenizer")
    shutil.copytree(base_dir, root / "models/export")
    write_instruct(root / "data/instruct/instruct.jsonl", None if rows else [])
    (root / "metrics").mkdir()
    (root / "metrics/eval.json").write_text(json.dumps({"summary": {"humaneval_pass@1": 0.0, "val_loss": 9.0}}))
    params = {"evaluate": {"benchmarks": ["humaneval", "mbpp"], "limit": {"humaneval": 2, "mbpp": 2},
                           "max_new_tokens": 64, "batch_size": 2, "workers": 1, "timeout_s": 5.0},
              "sft": sft_section(evaluate={"benchmarks": ["humaneval"], "limit": {"humaneval": 1}, "max_new_tokens": 4})}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def summary_markdown() -> str:
    from prefect.artifacts import Artifact

    artifact = Artifact.get("sft-summary")
    assert artifact is not None
    return str(artifact.data)


def run_flow(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from flows.sft import sft_flow

    monkeypatch.chdir(root)
    return sft_flow(params_path="params.yaml")


def test_disabled_when_there_are_no_rows(tmp_path: Path, tokenizer_path: Path, base_dir: Path,
                                         prefect_api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, tokenizer_path, base_dir, rows=False)
    metrics = run_flow(root, monkeypatch)
    assert metrics["enabled"] is False and "teacher" in metrics["how_to_enable"]
    assert json.loads((root / "metrics/sft.json").read_text()) == metrics
    marker = json.loads((root / "models/sft/SKIPPED.json").read_text())
    assert marker["skipped"] is True and "empty" in marker["reason"]
    assert sorted(p.name for p in (root / "models/sft").iterdir()) == ["SKIPPED.json"]
    assert (root / "data/eval_sft/SKIPPED.json").is_file() and (root / "dvclive/sft/plots/metrics").is_dir()
    assert "How to enable" in summary_markdown() and "oss_instruct" in summary_markdown()


def test_enabled_tunes_exports_and_evaluates(tmp_path: Path, tokenizer_path: Path, base_dir: Path,
                                             prefect_api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = project(tmp_path, tokenizer_path, base_dir, rows=True)
    metrics = run_flow(root, monkeypatch)
    assert metrics["enabled"] is True and metrics["steps"] == 12 and metrics["data"]["examples"] == 6
    assert metrics["probe"]["loss_after"] < metrics["probe"]["loss_before"]
    assert json.loads((root / "metrics/sft.json").read_text()) == metrics
    assert "wall_time_s" not in metrics and "tokens_per_s" not in metrics  # run-dependent: reports/timings
    assert (root / "reports/timings/sft.json").is_file()
    hf = json.loads((root / "models/sft/config.json").read_text())
    assert hf["architectures"] == ["LlamaForCausalLM"] and hf["eos_token_id"] == 5  # <|EOT|>
    ev = metrics["eval"]
    assert ev["errors"] == [] and set(ev["sft"]) == {"humaneval_pass@1"}
    assert ev["comparison"] == [{"metric": "humaneval_pass@1", "base": 0.0, "sft": ev["sft"]["humaneval_pass@1"],
                                 "delta": ev["sft"]["humaneval_pass@1"]}]
    assert [json.loads(line)["task_id"] for line in (root / "data/eval_sft/humaneval.jsonl").read_text().splitlines()] \
        == ["HumanEval/0"]
    assert (root / "dvclive/sft/plots/metrics/train/loss.tsv").is_file()
    assert "Instruction tuning" in summary_markdown()
