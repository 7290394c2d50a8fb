"""`make run`: one command from a fresh clone to a reproduced pipeline.

Starts (or reuses) the local Prefect server, makes sure DVC and its local remote exist, runs the
pipeline as the nightly refresh does (flows/refresh.py: one parent flow run, every stage through
`dvc repro --single-item` in DVC's order as its child run), pushes the artifacts to the remote, and
prints where to look. Idempotent: a second run finds everything up to date within seconds.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from flows.server import ensure_api_url

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REMOTE = "local"
DEFAULT_REMOTE_DIR = ".dvc-remote"


def sh(*cmd: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), cwd=ROOT, check=check, text=True,
                          capture_output=capture)


def dvc(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return sh(sys.executable, "-m", "dvc", *args, check=check, capture=capture)


def ensure_dvc() -> None:
    """DVC project and a local remote inside the work tree (nothing is written outside it)."""
    if not (ROOT / ".git").exists():  # a copy without git: DVC and dvclive need a repository with a commit
        sh("git", "init", "-q")
        sh("git", "add", "-A")
        sh("git", "-c", "user.name=coder-pipeline", "-c", "user.email=run@coder-pipeline.invalid",
           "commit", "-q", "-m", "initial snapshot")
    if not (ROOT / ".dvc").exists():
        dvc("init", "-q")
    remotes = dvc("remote", "list", capture=True).stdout
    if not remotes.strip():
        dvc("remote", "add", "-d", DEFAULT_REMOTE, DEFAULT_REMOTE_DIR)  # dvc stores it relative to .dvc/config
    (ROOT / DEFAULT_REMOTE_DIR).mkdir(exist_ok=True)


def main() -> int:
    started = time.monotonic()
    # dvc.yaml's commands run `python -m flows.<stage>`: make that this environment's interpreter
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    url = ensure_api_url()
    ensure_dvc()
    env_note = f"PREFECT_API_URL={url}"
    print(f"[run] Prefect server: {url.removesuffix('/api')}  ({env_note})", flush=True)
    from flows._runtime import run_stage
    from flows.refresh import refresh

    rc = run_stage(refresh, root=str(ROOT))
    if rc != 0:
        print(f"[run] the pipeline failed (exit {rc}); dvc.lock keeps the last good run. "
              f"See the failed flow run in the Prefect UI: {url.removesuffix('/api')}/runs", file=sys.stderr)
        return rc
    dvc("push", "-q", check=False)
    elapsed = time.monotonic() - started
    ui = url.removesuffix("/api")
    print("\n[run] done in %.0fs" % elapsed)
    print(f"  Prefect UI (flow runs, artifacts): {ui}/runs")
    print(f"  Metrics:  {sys.executable} -m dvc metrics show   (files in metrics/)")
    print(f"  Plots:    {sys.executable} -m dvc plots show     (writes dvc_plots/index.html)")
    for report in ("reports/index.html", "reports/data_docs/index.html"):
        if (ROOT / report).exists():
            print(f"  Report:   {ROOT / report}")
    summary = ROOT / "metrics" / "filter.json"
    if summary.exists():
        m = json.loads(summary.read_text())
        print(f"  Filter pass rate: {m.get('pass_rate_bytes', float('nan')):.3f} by bytes, "
              f"{m.get('pass_rate_files', float('nan')):.3f} by files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
