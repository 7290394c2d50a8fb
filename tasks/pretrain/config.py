"""Training configuration from the `pretrain` section of params.yaml, validated up front.

A run is a list of phases (DeepSeek-Coder main pre-training with its step schedule, a cool-down on the
cool-down mixture with linear decay to 0, the long-context phase with a new RoPE base and scaling);
each phase names its data split, length, schedule and optional overrides. A bad value raises
ParamError naming the key, e.g. `pretrain.phases[1].schedule: unknown value ...`.

The model config brings its own training recipe (`recipe:` in configs/<model>.yaml: the paper's learning
rate, batch and warmup for its sizes, the CPU settings for `small`): a recipe key that params.yaml leaves
out or sets to null comes from the recipe; a value set in params.yaml wins.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tasks.common.params import ParamError, choice, get, named_yaml, number

CONFIG_DIR = Path(__file__).parent / "configs"
RECIPE_KEYS = ("lr", "batch_size", "grad_accum", "warmup", "min_lr_ratio", "decay_points")

SCHEDULES = ("warmup_step", "linear", "constant")  # schedule.py also has `cosine`, used by sft
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
PARALLEL = ("ddp", "fsdp")


@dataclass(frozen=True)
class PhaseConfig:
    """One stretch of training. None means: inherit (lr from the previous phase's end, seq_len from
    the split's packed length, RoPE from the model config, batch from the run)."""

    name: str
    steps: int
    split: str = "train"
    schedule: str = "warmup_step"
    lr: float | None = None
    warmup: int = 0
    decay_points: tuple[float, ...] = (0.8, 0.9)
    min_lr_ratio: float = 0.1
    end_lr_ratio: float = 0.0
    seq_len: int | None = None
    rope_theta: float | None = None
    rope_scaling: float | None = None
    batch_size: int | None = None
    grad_accum: int | None = None


@dataclass(frozen=True)
class TrainConfig:
    model: str = "small"
    steps: int = 200
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup: int = 20
    decay_points: tuple[float, ...] = (0.8, 0.9)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 1234
    threads: int = 2
    compile: bool = False
    device: str = "auto"
    precision: str = "auto"
    parallel: str = "ddp"
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    eval_every: int = 50
    eval_batches: int = 4
    val_split: str = "val"
    log_every: int = 1
    peak_flops: float | None = None
    continual: bool = False          # a finished run of other data: start from its weights (continual pretraining)
    phases: tuple[PhaseConfig, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.phases:  # one main phase from the top-level keys
            object.__setattr__(self, "phases", (PhaseConfig(
                name="main", steps=self.steps, warmup=self.warmup, decay_points=self.decay_points,
                min_lr_ratio=self.min_lr_ratio),))

    @property
    def active_phases(self) -> tuple[PhaseConfig, ...]:
        return tuple(p for p in self.phases if p.steps > 0)

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.active_phases)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decay_points(p: dict[str, Any], key: str, default: Any) -> tuple[float, ...]:
    value = get(p, key, default=default, kind=(list, tuple))
    points = [_point(key, i, v) for i, v in enumerate(value)]
    if points != sorted(points):
        raise ParamError(f"{key}: break points must be increasing, got {list(value)!r}")
    return tuple(points)


def _point(key: str, i: int, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
        raise ParamError(f"{key}[{i}]: must be a number in (0, 1), got {v!r}")
    return float(v)


def _optional(p: dict[str, Any], key: str, **kw: Any) -> Any:
    return None if get(p, key, default=None) is None else number(p, key, **kw)


FLOAT_KEYS = ("lr", "min_lr_ratio", "weight_decay", "beta1", "beta2", "grad_clip", "peak_flops", "end_lr_ratio",
              "rope_theta", "rope_scaling")


def _yaml_floats(d: dict[str, Any]) -> dict[str, Any]:
    """PyYAML (YAML 1.1) reads `3e-4` and `1.0e10` as strings; accept them for float keys."""
    out = dict(d)
    for key in FLOAT_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            try:
                out[key] = float(value)
            except ValueError:
                pass  # left as is: validation names the key
    return out


def model_config_path(name_or_path: str) -> Path:
    """configs/<name>.yaml, or a YAML file path."""
    return named_yaml(CONFIG_DIR, name_or_path, "model config")


def model_recipe(name_or_path: str) -> dict[str, Any]:
    """The `recipe:` mapping of a model config (empty when it has none)."""
    try:
        path = model_config_path(name_or_path)
    except FileNotFoundError as exc:
        raise ParamError(f"pretrain.model: {exc}") from exc
    recipe = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("recipe") or {}
    unknown = sorted(set(recipe) - set(RECIPE_KEYS)) if isinstance(recipe, dict) else ["(not a mapping)"]
    if unknown:
        raise ParamError(f"pretrain.model: {path}: recipe keys {unknown} unknown (known: {', '.join(RECIPE_KEYS)})")
    return dict(recipe)


def with_recipe(section: dict[str, Any]) -> dict[str, Any]:
    """The section with each recipe key it leaves out (or sets to null) taken from the model config's recipe;
    a key set to null that no recipe has falls back to TrainConfig's default."""
    model = section.get("model", TrainConfig.model)
    out = dict(section)
    for key, value in (model_recipe(model) if isinstance(model, str) else {}).items():
        if out.get(key) is None:
            out[key] = value
    for key in RECIPE_KEYS:
        if key in out and out[key] is None:
            del out[key]
    return out


def config_from_params(section: dict[str, Any]) -> TrainConfig:
    """Validate the `pretrain` params section; unknown keys are errors (typos must not pass silently)."""
    if not isinstance(section, dict):
        raise ParamError("pretrain: section must be a mapping")
    section = _yaml_floats(with_recipe(section))
    if isinstance(section.get("phases"), list):
        section["phases"] = [_yaml_floats(ph) if isinstance(ph, dict) else ph for ph in section["phases"]]
    p = {"pretrain": section}
    known = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(section) - known)
    if unknown:
        raise ParamError(f"pretrain.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    d = TrainConfig()
    model = get(p, "pretrain.model", default=d.model, kind=str)
    top = dict(
        model=model,
        steps=number(p, "pretrain.steps", lo=1, integer=True, default=d.steps),
        batch_size=number(p, "pretrain.batch_size", lo=1, integer=True, default=d.batch_size),
        grad_accum=number(p, "pretrain.grad_accum", lo=1, integer=True, default=d.grad_accum),
        lr=float(number(p, "pretrain.lr", lo=0, lo_open=True, default=d.lr)),
        min_lr_ratio=float(number(p, "pretrain.min_lr_ratio", lo=0, lo_open=True, hi=1, default=d.min_lr_ratio)),
        warmup=number(p, "pretrain.warmup", lo=0, integer=True, default=d.warmup),
        decay_points=_decay_points(p, "pretrain.decay_points", list(d.decay_points)),
        weight_decay=float(number(p, "pretrain.weight_decay", lo=0, default=d.weight_decay)),
        beta1=float(number(p, "pretrain.beta1", lo=0, hi=0.999999, default=d.beta1)),
        beta2=float(number(p, "pretrain.beta2", lo=0, hi=0.999999, default=d.beta2)),
        grad_clip=float(number(p, "pretrain.grad_clip", lo=0, default=d.grad_clip)),
        seed=number(p, "pretrain.seed", lo=0, integer=True, default=d.seed),
        threads=number(p, "pretrain.threads", lo=1, integer=True, default=d.threads),
        compile=get(p, "pretrain.compile", default=d.compile, kind=bool),
        device=choice(p, "pretrain.device", DEVICES, default=d.device),
        precision=choice(p, "pretrain.precision", PRECISIONS, default=d.precision),
        parallel=choice(p, "pretrain.parallel", PARALLEL, default=d.parallel),
        checkpoint_every=number(p, "pretrain.checkpoint_every", lo=1, integer=True, default=d.checkpoint_every),
        keep_checkpoints=number(p, "pretrain.keep_checkpoints", lo=1, integer=True, default=d.keep_checkpoints),
        eval_every=number(p, "pretrain.eval_every", lo=0, integer=True, default=d.eval_every),
        eval_batches=number(p, "pretrain.eval_batches", lo=1, integer=True, default=d.eval_batches),
        val_split=get(p, "pretrain.val_split", default=d.val_split, kind=str),
        log_every=number(p, "pretrain.log_every", lo=1, integer=True, default=d.log_every),
        peak_flops=_optional(p, "pretrain.peak_flops", lo=0, lo_open=True),
        continual=get(p, "pretrain.continual", default=d.continual, kind=bool),
    )
    raw_phases = get(p, "pretrain.phases", default=None)
    phases: list[PhaseConfig] = []
    if raw_phases is not None:
        if not isinstance(raw_phases, list) or not raw_phases:
            raise ParamError(f"pretrain.phases: must be a non-empty list of phase mappings, got {raw_phases!r}")
        for i, raw in enumerate(raw_phases):
            phases.append(_phase(raw, i, top))
        names = [ph.name for ph in phases]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ParamError(f"pretrain.phases: duplicate phase name {dupes[0]!r}")
        if not any(ph.steps > 0 for ph in phases):
            raise ParamError("pretrain.phases: every phase has steps 0; nothing to train")
    return TrainConfig(**top, phases=tuple(phases))


def _phase(raw: Any, index: int, top: dict[str, Any]) -> PhaseConfig:
    key = f"pretrain.phases[{index}]"
    if not isinstance(raw, dict):
        raise ParamError(f"{key}: must be a mapping, got {raw!r}")
    known = set(PhaseConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ParamError(f"{key}.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
    p = {"pretrain": {f"phases[{index}]": raw}}  # nested so dotted lookups name the key in errors

    def k(name: str) -> str:
        return f"{key}.{name}"

    name = get(p, k("name"), kind=str)
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ParamError(f"{k('name')}: must be a non-empty identifier ([A-Za-z0-9_-]), got {name!r}")
    schedule = choice(p, k("schedule"), SCHEDULES, default="warmup_step")
    steps_raw = get(p, k("steps"), default=None)
    steps = top["steps"] if steps_raw is None else number(p, k("steps"), lo=0, integer=True)
    return PhaseConfig(
        name=name,
        steps=steps,
        split=get(p, k("split"), default="train", kind=str),
        schedule=schedule,
        lr=None if get(p, k("lr"), default=None) is None else float(number(p, k("lr"), lo=0, lo_open=True)),
        warmup=number(p, k("warmup"), lo=0, integer=True, default=top["warmup"] if schedule == "warmup_step" else 0),
        decay_points=_decay_points(p, k("decay_points"), list(top["decay_points"])),
        min_lr_ratio=float(number(p, k("min_lr_ratio"), lo=0, lo_open=True, hi=1, default=top["min_lr_ratio"])),
        end_lr_ratio=float(number(p, k("end_lr_ratio"), lo=0, hi=1, default=0.0)),
        seq_len=_optional(p, k("seq_len"), lo=1, integer=True),
        rope_theta=None if get(p, k("rope_theta"), default=None) is None else float(number(p, k("rope_theta"), lo=0, lo_open=True)),
        rope_scaling=None if get(p, k("rope_scaling"), default=None) is None else float(number(p, k("rope_scaling"), lo=0, lo_open=True)),
        batch_size=_optional(p, k("batch_size"), lo=1, integer=True),
        grad_accum=_optional(p, k("grad_accum"), lo=1, integer=True),
    )
