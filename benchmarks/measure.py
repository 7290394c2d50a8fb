"""Running cases in worker processes, repetitions, medians, and the scaling fit.

Every figure is a ratio of two medians measured in the same run on the same data; repetitions of
a row's cases are interleaved (baseline, ours, baseline, ours, ...) so that a load spike from the
other processes on the machine hits both sides alike.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from benchmarks.cases import ENV_SINGLE_CORE
from benchmarks.worker import MARK

TAIL = 3000


def run_case(case: str, args: dict[str, Any], *, root: str | Path, env: dict[str, str] | None = None,
             profile: bool = False, timeout_s: float = 1800, python: str | None = None,
             script: str | None = None) -> dict[str, Any]:
    """Run one case in a fresh process; returns its result dict, or {"error": ...} (never raises).

    `python` + `script` run a stand-alone worker in another interpreter (the peers venv) instead of
    `python -m benchmarks.worker` in this one.
    """
    spec = {"case": case, "args": args, "profile": profile}
    full_env = {**os.environ, **ENV_SINGLE_CORE, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(spec, fh)
        spec_path = fh.name
    cmd = [python or sys.executable] + ([script] if script else ["-m", "benchmarks.worker"]) + [spec_path]
    try:
        proc = subprocess.run(cmd, cwd=str(root), env=full_env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"{case}: timed out after {timeout_s:.0f} s"}
    except OSError as exc:
        return {"error": f"{case}: cannot start {cmd[0]}: {exc}"}
    finally:
        os.unlink(spec_path)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"error": f"{case}: exit {proc.returncode}: {(proc.stderr or proc.stdout)[-TAIL:]}"}


def repeat(cases: dict[str, Callable[[], dict[str, Any]]], reps: int) -> dict[str, list[dict[str, Any]]]:
    """Run each case `reps` times, interleaved; a case that errors is not run again."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, fn in cases.items():
            if out[name] and "error" in out[name][-1]:
                continue
            out[name].append(fn())
    return out


def summarise(runs: list[dict[str, Any]], n_bytes: int | None = None) -> dict[str, Any]:
    """Medians of wall/CPU seconds over the repetitions, max peak RSS, MB/s by CPU and wall time.

    The other keys are taken from the first run (they are counts, equal in every repetition)."""
    if not runs:
        return {"error": "not run"}
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        return {"error": errors[0]}
    out = {k: v for k, v in runs[0].items() if k not in ("wall_s", "cpu_s", "peak_rss_mb", "profile")}
    out["reps"] = len(runs)
    out["wall_s"] = statistics.median(r["wall_s"] for r in runs)
    out["cpu_s"] = statistics.median(r["cpu_s"] for r in runs)
    out["wall_s_all"] = [round(r["wall_s"], 4) for r in runs]
    out["cpu_s_all"] = [round(r["cpu_s"], 4) for r in runs]
    out["peak_rss_mb"] = max(r.get("peak_rss_mb", 0.0) for r in runs)
    if n_bytes is not None:
        out["bytes"] = n_bytes
        out["mb_per_cpu_s"] = n_bytes / 1e6 / out["cpu_s"] if out["cpu_s"] > 0 else None
        out["mb_per_wall_s"] = n_bytes / 1e6 / out["wall_s"] if out["wall_s"] > 0 else None
    return out


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return num / den


def fit_exponent(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of log(y) against log(x): y ~ x^slope (1.0 = linear)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def rounded(obj: Any, digits: int = 4) -> Any:
    """Floats to `digits` significant digits, recursively (results.json stays readable)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, digits) for v in obj]
    return obj
