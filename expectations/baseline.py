"""What a stage's gate is compared with across runs: the values it judges, its mode, the accepted run.

Bands tuned to one corpus fail on any other, so gates travel with three pieces kept here:
- `observe(stage, metrics)`: the values a stage's gate judges, from its `metrics/<stage>.json`. One
  definition serves the bands `flows/calibrate.py` writes, the accepted snapshot and the drift check.
- `GatePolicy` (`<stage>.gate.mode` and `<stage>.gate.drift` in params.yaml): `warn` reports a miss
  without failing the stage, so a first run on a new corpus completes and records its metrics; `drift`
  is the largest move allowed from the accepted run, per metric. Both sit inside the stage's own
  params section, so DVC reruns exactly the stage whose gate settings changed.
- The accepted snapshot `expectations/accepted/<stage>.json`: the observed values of the run a user
  accepted (`python -m flows.calibrate` or `... accept`), committed to git with params.yaml. "The last
  accepted run" is whatever that file holds; without it there is no drift check, and the gate result
  says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from tasks.common.io import atomic_write_json
from tasks.common.params import ParamError

# The drift-checkable values of each gated stage (the keys `observe` returns), in params order.
GATED: dict[str, tuple[str, ...]] = {
    "filter": ("pass_rate_bytes", "pass_rate_files", "language_share"),
    "order": ("resolution_rate",),
    "dedup": ("dropped_share",),
    "quality": ("removed_file_share",),
}
MODES = ("enforce", "warn")
POLICY_KEYS = ("mode", "drift")  # keys every gated stage's `gate` section accepts besides its bands
ACCEPTED_DIR = Path("expectations") / "accepted"
MOVE_DIGITS = 6  # metrics are rounded to 6 digits: rounding the move keeps 0.65 - 0.60 from exceeding 0.05


def observe(stage: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The values `stage`'s gate judges, from its metrics (KeyError names what the metrics lack)."""
    if stage == "filter":
        return {"pass_rate_bytes": float(metrics["pass_rate_bytes"]),
                "pass_rate_files": float(metrics["pass_rate_files"]),
                "language_share": {str(k): float(v) for k, v in sorted(metrics["language_share_kept"].items())}}
    if stage == "order":
        return {"resolution_rate": float(metrics["resolution_rate"] or 0.0)}  # null when no dependency was found
    if stage == "dedup":
        return {"dropped_share": float(metrics["dropped_share"])}
    if stage == "quality":
        return {"removed_file_share": float(metrics["files"]["removed_share"])}
    raise KeyError(f"{stage}: not a gated stage (expected one of {', '.join(GATED)})")


@dataclass(frozen=True)
class GatePolicy:
    """How a stage's gate acts on a miss, and how far its values may move from the accepted run."""

    mode: str = "enforce"  # enforce: a miss fails the stage | warn: reported only, the stage completes
    drift: tuple[tuple[str, float], ...] = ()  # (value, largest allowed move), only the values checked

    def allowed(self) -> dict[str, float]:
        return dict(self.drift)


def policy_from_params(stage: str, gate: Any, bands: Iterable[str] | None = None) -> GatePolicy:
    """`<stage>.gate.mode` and `<stage>.gate.drift`, validated; with `bands` (the stage's band keys),
    any other key of the gate section is refused, naming it."""
    name = f"{stage}.gate"
    if gate is None:
        return GatePolicy()
    if not isinstance(gate, Mapping):
        raise ParamError(f"{name}: expected a mapping, got {gate!r}")
    if bands is not None:
        unknown = sorted(str(k) for k in gate if k not in set(bands) | set(POLICY_KEYS))
        if unknown:
            raise ParamError(f"{name}.{unknown[0]}: unknown key")
    mode = gate.get("mode", "enforce")
    if mode not in MODES:
        raise ParamError(f"{name}.mode: unknown value {mode!r}; expected one of {', '.join(MODES)}")
    drift = gate.get("drift")
    if drift is None:
        return GatePolicy(mode=mode)
    if not isinstance(drift, Mapping):
        raise ParamError(f"{name}.drift: expected a mapping of value -> largest move, got {drift!r}")
    checked = []
    for key, limit in drift.items():
        if key not in GATED[stage]:
            raise ParamError(f"{name}.drift.{key}: unknown key; expected some of {', '.join(GATED[stage])}")
        if limit is None:
            continue
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 <= limit <= 1:
            raise ParamError(f"{name}.drift.{key}: expected a share in [0, 1] or null, got {limit!r}")
        checked.append((str(key), float(limit)))
    return GatePolicy(mode=mode, drift=tuple(sorted(checked)))


# ---------------------------------------------------------------- the accepted snapshot
def accepted_path(stage: str, root: str | Path = ".") -> Path:
    return Path(root) / ACCEPTED_DIR / f"{stage}.json"


def save_accepted(stage: str, values: Mapping[str, Any], source: Mapping[str, Any], root: str | Path = ".") -> Path:
    """Write `expectations/accepted/<stage>.json`: the accepted values and where they came from."""
    path = accepted_path(stage, root)
    atomic_write_json(path, {"stage": stage, "values": dict(values), "source": dict(source)})
    return path


def load_accepted(stage: str, root: str | Path = ".") -> dict[str, Any] | None:
    """The accepted snapshot of `stage` (its `values`, `source`), or None when there is none."""
    path = accepted_path(stage, root)
    if not path.is_file():
        return None
    try:
        snapshot = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable accepted snapshot ({exc})") from exc
    if not isinstance(snapshot, dict) or snapshot.get("stage") != stage or not isinstance(snapshot.get("values"), dict):
        raise ValueError(f"{path}: not an accepted snapshot of stage {stage} (rewrite it with "
                         f"`python -m flows.calibrate accept --stages {stage}`)")
    return snapshot


# ---------------------------------------------------------------- drift
@dataclass
class DriftCheck:
    """A drift gate to run: its table (None when nothing can be compared) and why anything is unchecked."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["metric", "check", "accepted", "observed", "move", "allowed"])


def drift_rows(observed: Mapping[str, Any], accepted: Mapping[str, Any], allowed: Mapping[str, float]) -> DriftCheck:
    """One row per compared value: move = observed - accepted. A mapping (language shares) gives one row per
    key present in either run; a key new or gone counts from 0, so a language appearing or vanishing with
    more than the allowed share is a drift too."""
    check = DriftCheck()
    for key, limit in sorted(allowed.items()):
        if key not in accepted:
            check.notes.append(f"{key}: the accepted snapshot has no value for it; not checked")
            continue
        now, then = observed[key], accepted[key]
        pairs = ([(f"{key}[{k}]", then.get(k, 0.0), now.get(k, 0.0)) for k in sorted(set(now) | set(then))]
                 if isinstance(now, Mapping) else [(key, then, now)])
        for metric, before, after in pairs:
            check.rows.append({"metric": metric, "check": key, "accepted": float(before), "observed": float(after),
                               "move": round(float(after) - float(before), MOVE_DIGITS), "allowed": float(limit)})
    return check


def drift_check(stage: str, metrics: Mapping[str, Any], policy: GatePolicy, root: str | Path = ".") -> DriftCheck:
    """Compare `stage`'s metrics with its accepted snapshot under `policy.drift`. No snapshot: no rows and a
    note saying so (and how to record one)."""
    snapshot = load_accepted(stage, root)
    if snapshot is None:
        return DriftCheck(notes=[f"no accepted snapshot at {accepted_path(stage)}: drift not checked "
                                 f"(`python -m flows.calibrate accept --stages {stage}` records this run once "
                                 "it is accepted)"])
    check = drift_rows(observe(stage, metrics), snapshot["values"], policy.allowed())
    source = snapshot.get("source") or {}
    check.notes.insert(0, f"compared with {accepted_path(stage)} (from {source.get('metrics', '?')}, "
                          f"md5 {source.get('md5', '?')})")
    return check
