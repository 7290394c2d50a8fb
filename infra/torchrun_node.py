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

from tasks.common.params import load_params, number


def nproc_per_node(params_path: str) -> int:
    return int(number(load_params(params_path), "runtime.train_nproc_per_node", lo=1, integer=True, default=1))


def command(params_path: str = "params.yaml") -> list[str]:
    """The torchrun command of flows/pretrain.py's train task, with this params file's processes per node."""
    from flows.pretrain import torchrun_command

    return torchrun_command(params_path, nproc_per_node(params_path))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--print", action="store_true", help="print the command instead of running it")
    args = ap.parse_args(argv)
    cmd = command(args.params)
    from flows.pretrain import multi_node

    if nproc_per_node(args.params) < 2 and not multi_node():
        # one process on one node: pod 0's flow trains in-process and never opens a rendezvous to join
        print("infra.torchrun_node: nothing to join: one node (PET_NNODES unset or 1) and "
              "runtime.train_nproc_per_node = 1", file=sys.stderr)
        return 2
    if args.print:
        print(" ".join(cmd))
        return 0
    return subprocess.run(cmd, env=os.environ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
