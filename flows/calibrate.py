"""`python -m flows.calibrate` (`make calibrate`): quality gates that travel to a user's own corpus.

The gate bands in params.yaml are tuned to the default manifest; any other corpus misses them on its
first run, and a failed gate fails the stage (DVC keeps no lock, so there are no metrics to tune from).
The workflow on a new corpus:

    python -m flows.calibrate warn      # every gate reports misses without failing its stage
    dvc repro                           # the run completes and writes metrics/<stage>.json
    python -m flows.calibrate --dry-run # what would change in params.yaml
    python -m flows.calibrate           # bands = observed +- margin, gates back to enforce, run accepted
    dvc repro                           # the calibrated stages rerun their gates (partitions reused): green
    git add params.yaml expectations/accepted && git commit

Actions: `all` (default: bands + mode enforce + accept), `bands`, `accept` (snapshot the run as the
baseline of the drift checks, `expectations/accepted/<stage>.json`), `warn` / `enforce` (the gates' mode
only). Metrics are taken only as dvc.lock records them (the accepted run), unless `--unlocked`.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from expectations.baseline import GATED, MODES, accepted_path, load_accepted, observe, policy_from_params, save_accepted
from expectations.calibration import RewriteError, rewrite_gates, stage_bands
from tasks.common.io import atomic_write_text
from tasks.common.params import ParamError, number

ACTIONS = ("all", "bands", "accept", *MODES)
DEFAULT_MARGIN = 0.05


HINT = ("on a new corpus, let the gates report without failing first: `python -m flows.calibrate warn && dvc repro`, "
        "then calibrate")


class CalibrationError(RuntimeError):
    """Nothing sound to calibrate from (no metrics, metrics DVC does not record, a bad margin)."""


class MissingMetrics(CalibrationError):
    """A stage has no metrics/<stage>.json: it never completed a run here."""


@dataclass
class Plan:
    """What a calibration would change: the new params.yaml text and the snapshots to write."""

    params_path: Path
    old_text: str
    new_text: str
    snapshots: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)  # stage -> (values, source)
    messages: list[str] = field(default_factory=list)

    def diff(self) -> str:
        name = str(self.params_path)
        return "".join(difflib.unified_diff(self.old_text.splitlines(keepends=True),
                                            self.new_text.splitlines(keepends=True), name, f"{name} (calibrated)"))


def locked_md5(root: Path, stage: str) -> str | None:
    """The md5 dvc.lock records for metrics/<stage>.json (None: no dvc.lock, or no entry for the stage)."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages") or {}
    for out in (stages.get(stage) or {}).get("outs") or []:
        if out.get("path") == f"metrics/{stage}.json":
            return out.get("md5")
    return None


def accepted_metrics(root: Path, stage: str, unlocked: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, source) of the last completed run of `stage`; CalibrationError says why there is none."""
    path = root / "metrics" / f"{stage}.json"
    if not path.is_file():
        raise MissingMetrics(f"no metrics/{stage}.json (stage {stage} has not completed a run here)")
    raw = path.read_bytes()
    md5 = hashlib.md5(raw).hexdigest()
    locked = locked_md5(root, stage)
    if locked is not None and locked != md5 and not unlocked:
        raise CalibrationError(
            f"metrics/{stage}.json (md5 {md5}) is not the one dvc.lock records for stage {stage} ({locked}): its "
            f"last run did not complete under DVC. Rerun it (`dvc repro {stage}`, with `python -m flows.calibrate warn "
            f"--stages {stage}` if its gate fails), or pass --unlocked to calibrate from these metrics anyway.")
    try:
        metrics = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"metrics/{stage}.json: not JSON ({exc})") from exc
    lock_state = "no dvc.lock entry" if locked is None else ("recorded in dvc.lock" if locked == md5 else "not in dvc.lock")
    return metrics, {"metrics": f"metrics/{stage}.json", "md5": md5, "dvc_lock": lock_state}


def check_params(params: dict[str, Any], stages: list[str]) -> None:
    """Parse each stage's section with the stage's own validation: calibration never writes a params.yaml
    a stage would refuse."""
    from tasks.dedup.config import config_from_params as dedup_config
    from tasks.filter.config import config_from_params as filter_config
    from tasks.quality.config import config_from_params as quality_config

    for stage in stages:
        section = params.get(stage) or {}
        if stage == "filter":
            filter_config(section)
        elif stage == "dedup":
            dedup_config(section)
        elif stage == "quality":
            quality_config(section)
        elif stage == "order":
            gate = section.get("gate") or {}
            number({"order": {"gate": gate}}, "order.gate.min_resolution_rate", lo=0, hi=1, default=0.0)
            policy_from_params("order", gate, bands=("min_resolution_rate",))


def plan(root: Path, action: str = "all", stages: list[str] | None = None, margin: float = DEFAULT_MARGIN,
         unlocked: bool = False) -> Plan:
    """Work out a calibration without writing anything. `stages` None: every gated stage that has metrics
    (the others are named in the messages); named stages must all have them."""
    if action not in ACTIONS:
        raise CalibrationError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    if isinstance(margin, bool) or not 0 <= margin <= 1:
        raise CalibrationError(f"--margin: expected a share in [0, 1], got {margin!r}")
    params_path = root / "params.yaml"
    if not params_path.is_file():
        raise CalibrationError(f"{params_path}: params file not found")
    text = params_path.read_text(encoding="utf-8")
    params = yaml.safe_load(text) or {}
    out = Plan(params_path=params_path, old_text=text, new_text=text)
    wanted = list(stages) if stages else list(GATED)
    if action in MODES:
        out.new_text = rewrite_gates(text, {stage: {"mode": action} for stage in wanted})
        check_params(yaml.safe_load(out.new_text), wanted)
        return out

    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for stage in wanted:
        try:
            found[stage] = accepted_metrics(root, stage, unlocked)
        except MissingMetrics as exc:
            if stages:
                raise MissingMetrics(f"{exc}; {HINT}") from None
            out.messages.append(f"{stage}: skipped, {exc}")
    if found and len(found) < len(wanted):
        out.messages.append(f"({HINT})")
    if not found:
        raise MissingMetrics("no accepted run to calibrate from:\n  " + "\n  ".join(out.messages) + f"\n{HINT}")

    updates: dict[str, dict[str, Any]] = {}
    comments: dict[str, dict[str, str]] = {}
    for stage, (metrics, source) in found.items():
        try:
            observed = observe(stage, metrics)
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"metrics/{stage}.json lacks {exc}: not metrics of this pipeline's {stage} stage") \
                from exc
        out.messages.append(f"{stage}: from {source['metrics']} ({source['dvc_lock']})")
        if action in ("all", "bands"):
            supported = None
            if stage == "filter":
                from tasks.filter.config import config_from_params as filter_config

                supported = filter_config(params.get("filter") or {}).supported()
            updates[stage], comments[stage], skipped = stage_bands(stage, observed, margin, supported)
            if skipped:
                out.messages.append(f"{stage}: no band for {', '.join(skipped)} (not supported languages: the "
                                    "language-mix gate refuses them whatever the bands)")
            if action == "all":
                updates[stage]["mode"] = "enforce"
        if action in ("all", "accept"):
            previous = load_accepted(stage, root)
            state = "new" if previous is None else ("unchanged" if previous["values"] == observed else "updated")
            out.snapshots[stage] = (observed, source)
            out.messages.append(f"{stage}: accepted snapshot {accepted_path(stage)} ({state})")
    if updates:
        out.new_text = rewrite_gates(text, updates, comments)
        check_params(yaml.safe_load(out.new_text), list(updates))
    return out


def apply(p: Plan, root: Path) -> None:
    if p.new_text != p.old_text:
        atomic_write_text(p.params_path, p.new_text)
    for stage, (values, source) in p.snapshots.items():
        save_accepted(stage, values, source, root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.calibrate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("action", nargs="?", default="all", choices=ACTIONS,
                        help="all (default): bands + enforce + accept; bands; accept; warn / enforce: gate mode only")
    parser.add_argument("--stages", nargs="+", choices=list(GATED), help="default: every gated stage")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help=f"absolute slack around each observed share (default {DEFAULT_MARGIN})")
    parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    parser.add_argument("--unlocked", action="store_true", help="accept metrics that dvc.lock does not record")
    parser.add_argument("--root", type=Path, default=Path("."), help="project directory (default: here)")
    args = parser.parse_args(argv)
    try:
        p = plan(args.root, args.action, args.stages, args.margin, args.unlocked)
    except (CalibrationError, ParamError, RewriteError, ValueError) as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 1
    for message in p.messages:
        print(message)
    print(p.diff() or f"{p.params_path}: no change")
    if args.dry_run:
        print("dry run: nothing written")
        return 0
    apply(p, args.root)
    if p.new_text != p.old_text or p.snapshots:
        print("next: `dvc repro` (stages whose gate settings changed rerun their gates; committed partitions are "
              "reused), then commit params.yaml and expectations/accepted/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
