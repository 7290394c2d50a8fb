"""Helpers for the sft tests: a project-style tokenizer (every special token of tasks/tokenizer/special.py),
a tiny pretrained base exported the way pretrain exports it, and generated instruction rows."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SYSTEM = "You are a coder."
# Each instruction has exactly one right answer, so a few steps on these rows visibly lower the loss.
TASKS = [
    ("add", "Write a function add that returns the sum of a and b.", "def add(a, b):\n    return a + b"),
    ("sub", "Write a function sub that returns a minus b.", "def sub(a, b):\n    return a - b"),
    ("mul", "Write a function mul that returns a times b.", "def mul(a, b):\n    return a * b"),
    ("neg", "Write a function neg that returns minus x.", "def neg(x):\n    return -x"),
    ("sq", "Write a function sq that returns x squared.", "def sq(x):\n    return x * x"),
    ("one", "Write a function one that returns 1.", "def one():\n    return 1"),
]


def instruct_rows() -> list[dict[str, Any]]:
    """Rows in the oss_instruct contract's shape (response: markdown with a fenced code block)."""
    return [{"id": f"t-{name}", "lang": "python", "instruction": text,
             "response": f"```python\n{code}\n```", "seed": {"repo": "git/x", "path": f"{name}.py"},
             "teacher": {"model": "test"}, "tests": None} for name, text, code in TASKS]


def write_instruct(path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = instruct_rows() if rows is None else rows
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build_tokenizer(out_dir: Path, vocab_size: int = 400) -> Path:
    """The tokenizer stage's pipeline (tasks.tokenizer.build) trained on the test rows and a little code."""
    from tasks.common.io import atomic_write_json
    from tasks.tokenizer.build import add_bos_processor, new_tokenizer, new_trainer
    from tasks.tokenizer.config import Config
    from tasks.tokenizer.train import hf_files

    cfg = Config(vocab_size=vocab_size, min_frequency=1)
    texts = [SYSTEM, "### Instruction:\n### Response:\n"] + [f"{t}\n```python\n{c}\n```\n" for _, t, c in TASKS] * 4
    tok = new_tokenizer()
    tok.train_from_iterator(texts, trainer=new_trainer(cfg))
    add_bos_processor(tok)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"))
    for name, obj in hf_files(cfg).items():
        atomic_write_json(out_dir / name, obj)
    return out_dir / "tokenizer.json"


def build_base(out_dir: Path, tokenizer_path: Path, seed: int = 0) -> Path:
    """A randomly initialised `tiny` Transformer, checkpointed and exported exactly as pretrain does."""
    import torch
    from tokenizers import Tokenizer

    from tasks.pretrain import checkpoint as ckpt
    from tasks.pretrain.export import export_hf
    from tasks.pretrain.model import ModelConfig, Transformer, load_model_config

    vocab = Tokenizer.from_file(str(tokenizer_path)).get_vocab_size()
    base = load_model_config("tiny").to_dict()
    mcfg = ModelConfig.from_dict({**base, "vocab_size": vocab, "max_seq_len": 128})
    torch.manual_seed(seed)
    model = Transformer(mcfg)
    ck = ckpt.save_checkpoint(out_dir.parent / f"{out_dir.name}-ckpt", 1, {
        "model": model.state_dict(), "model_config": mcfg.to_dict(), "rope": {"theta": 10000.0, "scaling": 1.0},
        "progress": {"phases": {}}}, keep=1)
    export_hf(ck, tokenizer_path, out_dir)
    return out_dir


def sft_section(**overrides: Any) -> dict[str, Any]:
    """An `sft` params section for the tiny model: seconds, not minutes."""
    section = {"system": SYSTEM, "lr": 1e-2, "warmup": 2, "steps": 12, "batch_size": 3, "grad_accum": 2,
               "max_seq_len": 96, "threads": 1, "device": "cpu", "checkpoint_every": 4, "seed": 7, "loss_rows": 6}
    section.update(overrides)
    return section
