"""The `sft` section of params.yaml, validated up front (a bad value raises ParamError naming the key).

Instruction tuning follows DeepSeek-Coder §3.5 (cosine schedule, 100 warmup steps, peak 1e-5, the
Alpaca-style `### Instruction:` / `### Response:` format ending in `<|EOT|>`) on OSS-Instruct data
(Magicoder, arXiv 2312.02120: 2 epochs). The optimizer, runtime and schedule are pretrain's: the run
is expressed as a one-phase `TrainConfig` (`SftConfig.train_config`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from tasks.common.params import ParamError, checked_section, choice, get, number
from tasks.pretrain.config import DEVICES, PRECISIONS, PhaseConfig, TrainConfig

# DeepSeek-Coder-Instruct's system line (its finetune script and chat template).
DEEPSEEK_SYSTEM = ("You are an AI programming assistant, utilizing the DeepSeek Coder model, developed by DeepSeek "
                   "Company, and you only answer questions related to computer science. For politically sensitive "
                   "questions, security and privacy issues, and other non-computer science questions, you will "
                   "refuse to answer.")
OVERLONG = ("truncate", "drop")


@dataclass(frozen=True)
class SftConfig:
    base_model: str = "models/export"   # HF Llama directory to start from (pretrain's export)
    system: str = DEEPSEEK_SYSTEM
    lr: float = 1e-5
    end_lr_ratio: float = 0.0           # cosine floor, fraction of the peak
    warmup: int = 100
    steps: int | None = None            # optimizer steps; null: derived from epochs
    epochs: float = 2.0                 # passes over the rows when steps is null (Magicoder: 2)
    batch_size: int = 8                 # rows per micro-batch
    grad_accum: int = 1
    max_seq_len: int = 1024             # prompt + response + EOT tokens per row
    overlong: str = "truncate"          # rows longer than max_seq_len: cut the response, or drop the row
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 1234
    threads: int = 2
    device: str = "auto"
    precision: str = "auto"
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    log_every: int = 1
    loss_rows: int = 32                 # fixed rows whose response loss is measured before and after
    evaluate: dict[str, Any] = field(default_factory=dict)  # overrides of the `evaluate` section

    def total_steps(self, n_rows: int) -> int:
        if self.steps is not None:
            return self.steps
        per_step = self.batch_size * self.grad_accum
        return max(1, math.ceil(self.epochs * n_rows / per_step))

    def train_config(self, total_steps: int) -> TrainConfig:
        """The run as pretrain's config: one cosine phase (runtime, optimizer and schedule are reused)."""
        phase = PhaseConfig(name="sft", steps=total_steps, split="instruct", schedule="cosine", lr=self.lr,
                            warmup=min(self.warmup, total_steps), end_lr_ratio=self.end_lr_ratio,
                            seq_len=self.max_seq_len, batch_size=self.batch_size, grad_accum=self.grad_accum)
        return TrainConfig(model=self.base_model, steps=total_steps, batch_size=self.batch_size,
                           grad_accum=self.grad_accum, lr=self.lr, warmup=phase.warmup,
                           weight_decay=self.weight_decay, beta1=self.beta1, beta2=self.beta2,
                           grad_clip=self.grad_clip, seed=self.seed, threads=self.threads, device=self.device,
                           precision=self.precision, checkpoint_every=self.checkpoint_every,
                           keep_checkpoints=self.keep_checkpoints, log_every=self.log_every, phases=(phase,))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _float(section: dict[str, Any], key: str) -> None:
    """PyYAML (YAML 1.1) reads `1e-5` as a string; accept it for float keys."""
    value = section.get(key)
    if isinstance(value, str):
        try:
            section[key] = float(value)
        except ValueError:
            pass  # validation names the key


def config_from_params(section: Any) -> SftConfig:
    section = dict(checked_section(section, "sft", SftConfig.__dataclass_fields__))
    for key in ("lr", "end_lr_ratio", "epochs", "weight_decay", "beta1", "beta2", "grad_clip"):
        _float(section, key)
    p, d = {"sft": section}, SftConfig()

    def num(key: str, **kw: Any) -> Any:
        return number(p, f"sft.{key}", default=getattr(d, key), **kw)

    steps = get(p, "sft.steps", default=None)
    if steps is not None:
        steps = number(p, "sft.steps", lo=1, integer=True)
    system = get(p, "sft.system", default=d.system, kind=str)
    evaluate = get(p, "sft.evaluate", default=None) or {}
    if not isinstance(evaluate, dict):
        raise ParamError(f"sft.evaluate: expected a mapping of evaluate-section overrides, got {evaluate!r}")
    return SftConfig(
        base_model=get(p, "sft.base_model", default=d.base_model, kind=str),
        system=system,
        lr=float(num("lr", lo=0, lo_open=True)),
        end_lr_ratio=float(num("end_lr_ratio", lo=0, hi=1)),
        warmup=num("warmup", lo=0, integer=True),
        steps=steps,
        epochs=float(num("epochs", lo=0, lo_open=True)),
        batch_size=num("batch_size", lo=1, integer=True),
        grad_accum=num("grad_accum", lo=1, integer=True),
        max_seq_len=num("max_seq_len", lo=8, integer=True),
        overlong=choice(p, "sft.overlong", OVERLONG, default=d.overlong),
        weight_decay=float(num("weight_decay", lo=0)),
        beta1=float(num("beta1", lo=0, hi=0.999999)),
        beta2=float(num("beta2", lo=0, hi=0.999999)),
        grad_clip=float(num("grad_clip", lo=0)),
        seed=num("seed", lo=0, integer=True),
        threads=num("threads", lo=1, integer=True),
        device=choice(p, "sft.device", DEVICES, default=d.device),
        precision=choice(p, "sft.precision", PRECISIONS, default=d.precision),
        checkpoint_every=num("checkpoint_every", lo=1, integer=True),
        keep_checkpoints=num("keep_checkpoints", lo=1, integer=True),
        log_every=num("log_every", lo=1, integer=True),
        loss_rows=num("loss_rows", lo=0, integer=True),
        evaluate=dict(evaluate),
    )


def eval_settings(params: dict[str, Any], cfg: SftConfig) -> dict[str, Any]:
    """The evaluate section with `sft.evaluate` laid over it (nested mappings merged key by key)."""
    base = dict(get(params, "evaluate", default={}, kind=dict))
    base.pop("model_dir", None)  # the evaluate flow's key: which checkpoint; here always the tuned one

    def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    return merge(base, cfg.evaluate)
