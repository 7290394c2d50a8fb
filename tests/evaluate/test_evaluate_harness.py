"""The stage end to end on a tiny checkpoint, and the scoring paths with stub generators."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from tasks.evaluate import aggregate, config_from_params, evaluate, run_benchmark
from tasks.evaluate import benchmarks as B
from tasks.evaluate.config import BENCHMARKS
from tasks.evaluate.harness import eval_humaneval, eval_validation
from tasks.evaluate.validation import fim_tasks, next_line_tasks

pytest.importorskip("transformers")


class Stub:
    """A generator that answers from a function of (prompt, how many times it was asked)."""

    def __init__(self, answer):
        self.answer = answer
        self.seen: Counter = Counter()

    def generate(self, prompts, stops=(), max_new_tokens=None, tag=""):
        out = []
        for p in prompts:
            out.append(self.answer(p, self.seen[p]))
            self.seen[p] += 1
        return out

    def fits(self, text, max_new_tokens=None):
        return True


def test_sampled_pass_at_k_uses_the_unbiased_estimator() -> None:
    cfg = config_from_params({"n_samples": 4, "temperature": 0.8, "k": [1, 2], "limit": {"humaneval": 3},
                              "timeout_s": 5})
    problems = B.load_humaneval()
    by_prompt = {B.humaneval_prompt(p): p for p in problems}
    stub = Stub(lambda prompt, i: by_prompt[prompt]["canonical_solution"] if i % 2 == 0 else "    return None\n")
    stats, records = eval_humaneval(stub, cfg, problems)
    assert stats["n_problems"] == 3 and stats["n_programs"] == 12 and len(records) == 12
    assert [r["sample"] for r in records[:4]] == [0, 1, 2, 3]
    assert stats["pass@1"] == pytest.approx(0.5)
    assert stats["pass@2"] == pytest.approx(1 - 1 / 6)  # n=4, c=2: 1 - C(2,2)/C(4,2)


def test_validation_tasks_are_lines_of_the_documents(heldout_texts: list[str]) -> None:
    kw = dict(seed=3, max_docs=10, max_context_chars=2000, min_line_chars=8)
    nl = next_line_tasks(heldout_texts, **kw)
    assert nl == next_line_tasks(heldout_texts, **kw) and len(nl) == 3  # the "short" document has none
    for t in nl:
        doc = heldout_texts[t["doc"]]
        assert doc.startswith(t["prompt"] + t["target"]) and len(t["target"].strip()) >= 8
    for t in fim_tasks(heldout_texts, **kw):
        doc = heldout_texts[t["doc"]]
        prefix, rest = t["prompt"][len(B.FIM_BEGIN):].split(B.FIM_HOLE)
        suffix = rest[: -len(B.FIM_END)]
        assert prefix + t["target"] + suffix == doc


def test_validation_scoring_with_a_perfect_and_an_empty_guesser(heldout_texts: list[str]) -> None:
    cfg = config_from_params({"validation": {"max_docs": 10}})
    for bench, tasks_fn in (("val_next_line", next_line_tasks), ("val_fim", fim_tasks)):
        tasks = tasks_fn(heldout_texts, seed=cfg.seed, max_docs=10, max_context_chars=2000, min_line_chars=8)
        answers = {t["prompt"]: t["target"] + "more text\n" for t in tasks}
        cfg_line = replace(cfg, fim=replace(cfg.fim, stop_at_newline=True))
        perfect, records = eval_validation(bench, Stub(lambda p, i: answers[p]), None, cfg_line, heldout_texts)
        assert perfect["exact_match"] == 1.0 and perfect["n"] == 3 and len(records) == 3
        empty, _ = eval_validation(bench, Stub(lambda p, i: ""), None, cfg, heldout_texts)
        assert empty["exact_match"] == 0.0


def test_perplexity_matches_the_models_own_loss(tiny_model_dir: Path, packed_val_dir: Path) -> None:
    import torch

    from tasks.evaluate.generation import load_model
    from tasks.evaluate.validation import perplexity
    from tasks.pack.format import PackedDataset

    model, _ = load_model(tiny_model_dir)
    stats, records = perplexity(model, packed_val_dir, max_sequences=2)
    ds = PackedDataset.open(packed_val_dir)
    ids = torch.from_numpy(ds[0]).unsqueeze(0)
    with torch.no_grad():
        expected = float(model(input_ids=ids, labels=ids).loss)
    assert records[0]["sequence"] == 0 and records[0]["mean_nll"] == pytest.approx(expected, abs=1e-5)
    assert stats["n_sequences"] == 2 and stats["n_tokens"] == 2 * 31
    assert stats["perplexity"] == pytest.approx(torch.exp(torch.tensor(stats["loss"])).item(), rel=1e-5)


def test_evaluate_end_to_end_is_deterministic(tiny_model_dir: Path, packed_val_dir: Path, tmp_path: Path,
                                              heldout_texts: list[str]) -> None:
    section = {"limit": 2, "max_new_tokens": 8, "batch_size": 2, "timeout_s": 5, "workers": 2,
               "fim": {"mode": "exec"}, "validation": {"packed_dir": str(packed_val_dir), "max_docs": 4}}
    cfg = config_from_params(section)
    first = evaluate(tiny_model_dir, cfg, tmp_path / "a", heldout_texts=heldout_texts)
    second = evaluate(tiny_model_dir, cfg, tmp_path / "b", heldout_texts=heldout_texts)
    assert first["errors"] == [] and first["skipped"] == []
    assert set(first["benchmarks"]) == set(BENCHMARKS)
    for key in ("humaneval_pass@1", "mbpp_pass@1", "humaneval_fim_exact_match", "humaneval_fim_pass@1",
                "val_perplexity", "val_next_line_exact_match", "val_fim_exact_match"):
        assert key in first["summary"], key
    assert first["summary"] == second["summary"]
    assert all(isinstance(s, (int, float)) for s in first["seconds"].values())
    assert json.dumps(first)  # JSON-serialisable as written to metrics/eval.json
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(f"{b}.jsonl" for b in cfg.benchmarks)
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    humaneval = [json.loads(line) for line in (tmp_path / "a" / "humaneval.jsonl").read_text().splitlines()]
    assert [r["task_id"] for r in humaneval] == ["HumanEval/0", "HumanEval/82"]
    assert {"task_id", "completion", "passed", "status"} <= set(humaneval[0])
    assert first["benchmarks"]["mbpp"]["n_problems"] == 2
    if first["sandbox"]:
        assert "rlimits" in first["sandbox"]


def test_missing_inputs_are_recorded_not_raised(tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = config_from_params({"benchmarks": ["val_ppl", "val_next_line"],
                              "validation": {"packed_dir": str(tmp_path / "nope"), "heldout_dir": None}})
    metrics = evaluate(tiny_model_dir, cfg, tmp_path / "out")
    assert len(metrics["skipped"]) == 2 and metrics["errors"] == []
    broken = run_benchmark(tmp_path / "not-a-model", "humaneval", cfg, tmp_path / "out")
    assert broken["benchmark"] == "humaneval" and "error" in broken
    assert aggregate([broken])["errors"][0].startswith("humaneval: ")
