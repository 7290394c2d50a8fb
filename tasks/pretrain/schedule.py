"""Learning-rate schedule across phases, as a pure function of the global step.

A pure function (rather than a stateful torch scheduler) makes resume trivial and exact: the rate at
step s depends only on the config. Schedules (DeepSeek-Coder §3.4 and "To Code, or Not To Code"):
- `warmup_step`: linear warmup to the peak, then the rate is multiplied by min_lr_ratio^(1/k) at each
  of the k break points (fractions of the phase): the paper's 80%/90% points with sqrt(1/10) each,
  ending at 10% of the peak;
- `linear`: linear decay from the phase's starting rate to end_lr_ratio of it (0: the cool-down);
- `constant`: the starting rate throughout (the long-context phase keeps the final pre-training rate);
- `cosine`: linear warmup, then half a cosine from the peak down to end_lr_ratio of it (DeepSeek-Coder
  §3.5 instruction tuning: 100 warmup steps, peak 1e-5).
A phase with `lr: null` starts where the previous phase ended.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from tasks.pretrain.config import PhaseConfig, TrainConfig


@dataclass(frozen=True)
class PlannedPhase:
    index: int
    phase: PhaseConfig
    start_step: int  # global step index of the phase's first step
    start_lr: float  # peak for warmup_step, initial rate otherwise

    @property
    def end_step(self) -> int:
        return self.start_step + self.phase.steps

    @property
    def end_lr(self) -> float:
        p = self.phase
        if p.schedule == "warmup_step":
            return self.start_lr * (p.min_lr_ratio if p.decay_points else 1.0)
        if p.schedule in ("linear", "cosine"):
            return self.start_lr * p.end_lr_ratio
        return self.start_lr


def plan(cfg: TrainConfig) -> list[PlannedPhase]:
    out: list[PlannedPhase] = []
    step = 0
    for i, p in enumerate(cfg.active_phases):
        start_lr = p.lr if p.lr is not None else (out[-1].end_lr if out else cfg.lr)
        out.append(PlannedPhase(i, p, step, start_lr))
        step += p.steps
    return out


def break_steps(p: PhaseConfig) -> list[int]:
    """Phase-local steps where the step schedule drops (rounded so 0.8 * 100 is 80, not 79)."""
    return [int(math.floor(round(f * p.steps, 9))) for f in p.decay_points]


def phase_lr(planned: PlannedPhase, s: int) -> float:
    """Rate of phase-local step s (0-based)."""
    p, base = planned.phase, planned.start_lr
    if p.schedule == "warmup_step":
        lr = base
        if p.decay_points:
            factor = p.min_lr_ratio ** (1.0 / len(p.decay_points))
            lr = base * factor ** sum(s >= b for b in break_steps(p))
    elif p.schedule == "linear":
        lr = base * (1.0 - (1.0 - p.end_lr_ratio) * s / p.steps)
    elif p.schedule == "cosine":  # as transformers' cosine-with-warmup: the floor is reached after the last step
        progress = min(1.0, max(0, s - p.warmup) / max(1, p.steps - p.warmup))
        lr = base * (p.end_lr_ratio + (1.0 - p.end_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))
    else:
        lr = base
    if s < p.warmup:
        lr = min(lr, base * (s + 1) / p.warmup)
    return lr


def locate(phases: list[PlannedPhase], step: int) -> tuple[PlannedPhase, int]:
    """The phase of global step `step` (0-based) and the step within it."""
    for planned in phases:
        if step < planned.end_step:
            return planned, step - planned.start_step
    raise IndexError(f"step {step} is past the last phase (total {phases[-1].end_step if phases else 0})")


def lr_at(cfg: TrainConfig | list[PlannedPhase], step: int) -> float:
    phases = plan(cfg) if isinstance(cfg, TrainConfig) else cfg
    planned, s = locate(phases, step)
    return phase_lr(planned, s)
