"""Create the cpu and gpu work pools and apply infra/prefect.yaml to the Prefect server in use.

`python -m infra.deploy [--pool-type process]`: pools of type `process` run on this machine; on a
Kubernetes cluster, `--pool-type kubernetes` creates both pools from infra/cpu-job-template.json and
infra/gpu-job-template.json (or `--gpu-pool-type kubernetes` for the gpu pool alone); see infra/README.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from flows.server import ensure_api_url

ROOT = Path(__file__).resolve().parents[1]
POOLS = ("cpu", "gpu")


def prefect(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", *args], cwd=ROOT, env=env, check=True)


def deploy(pool_type: str = "process", gpu_pool_type: str | None = None) -> None:
    env = dict(os.environ, PREFECT_API_URL=ensure_api_url(), CODER_PIPELINE_ROOT=str(ROOT))
    for pool in POOLS:
        kind = gpu_pool_type if pool == "gpu" and gpu_pool_type else pool_type
        template = ROOT / "infra" / f"{pool}-job-template.json"
        extra = ["--base-job-template", str(template)] if kind == "kubernetes" else []
        prefect("work-pool", "create", pool, "--type", kind, *extra, "--overwrite", env=env)
    prefect("deploy", "--all", "--prefect-file", str(ROOT / "infra" / "prefect.yaml"), env=env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool-type", default="process")
    ap.add_argument("--gpu-pool-type", default=None)
    args = ap.parse_args()
    deploy(args.pool_type, args.gpu_pool_type)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
