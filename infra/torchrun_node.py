"""A non-zero node of a multi-node training job (infra/gpu-job-template.json, pods 1..nnodes-1 of the Indexed Job).

Pod 0 runs the pretrain stage's flow, which starts torchrun; every other pod runs this: the same torchrun
command, so that all nodes meet at the c10d rendezvous given by the PET_* environment (PET_NNODES,
PET_RDZV_ENDPOINT, PET_RDZV_ID, PET_RDZV_CONF), which torchrun reads for every option not on its command
line. It runs in the project checkout on the shared volume, so data/packed, the tokenizer and the
checkpoint directory (models/pretrain) are the ones pod 0 sees.

`python -m infra.torchrun_node [--params params.yaml] [--print]`
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from tasks.common.params import load_params, number


def nproc_per_node(params_path: str) -> int:
    return int(number(load_params(params_path), "runtime.train_nproc_per_node", lo=1, integer=True, default=1))


def command(params_path: str = "params.yaml") -> list[str]:
    """The torchrun command of flows/pretrain.py's train task (tests/distributed checks they stay equal)."""
    from flows.pretrain import DATA_DIR, LIVE_DIR, OUT_DIR, TOKENIZER

    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node(params_path)}", "-m",
            "tasks.pretrain.train", "--config", params_path, "--data-dir", DATA_DIR, "--tokenizer", TOKENIZER,
            "--out-dir", OUT_DIR, "--live-dir", LIVE_DIR, "--metrics", str(Path(OUT_DIR) / "last_metrics.json")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--print", action="store_true", help="print the command instead of running it")
    args = ap.parse_args(argv)
    cmd = command(args.params)
    if nproc_per_node(args.params) < 2:
        # flows/pretrain.py trains in-process (no torchrun) when train_nproc_per_node is 1: pod 0 would never
        # join the rendezvous and this node would wait for it until the join timeout
        print("infra.torchrun_node: multi-node training needs runtime.train_nproc_per_node >= 2 in params.yaml "
              "(pod 0's pretrain flow starts torchrun only then)", file=sys.stderr)
        return 2
    if args.print:
        print(" ".join(cmd))
        return 0
    return subprocess.run(cmd, env=os.environ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
