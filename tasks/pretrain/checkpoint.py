"""Atomic training checkpoints: a killed run never leaves a half-written file that resume would pick.

Two layouts, both moved into place with os.replace only when complete, after which
`checkpoints/latest` (written the same way) names the newest one:
- `step-00000050.pt`: one `torch.save` file with the full (unsharded) model and optimizer state,
  keyed by parameter name: single process and DDP, where the model fits on one device anyway;
- `step-00000050.dcp/`: a torch.distributed.checkpoint directory written by every rank in parallel
  (each its own shards, nothing gathered), plus `meta.pt`: FSDP, for models that do not fit. It
  loads under any world size or parallelism (DCP reshards), and `load_model_state` reads the model
  alone for export.
Besides tensors, a checkpoint holds what resume needs to continue the same loss curve: the schedule
position, the data position (windows consumed per phase, from which every rank's next sequence index
follows), RNG states, and progress counters.
"""
from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from tasks.common.io import atomic_write_text

FORMAT = "coder-pipeline/pretrain-checkpoint-v1"
LATEST = "latest"
META = "meta.pt"


def checkpoint_name(step: int, sharded: bool = False) -> str:
    return f"step-{step:08d}.{'dcp' if sharded else 'pt'}"


def _all_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoints of either layout, oldest first (names sort by step)."""
    found = [p for p in ckpt_dir.glob("step-*.pt") if p.is_file()]
    found += [p for p in ckpt_dir.glob("step-*.dcp") if (p / META).is_file()]
    return sorted(found, key=lambda p: p.name)


def _publish(ckpt_dir: Path, path: Path, keep: int) -> None:
    atomic_write_text(ckpt_dir / LATEST, path.name + "\n")
    for old in _all_checkpoints(ckpt_dir)[:-keep]:
        remove_checkpoint(old)


def remove_checkpoint(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def save_checkpoint(ckpt_dir: str | os.PathLike, step: int, state: dict[str, Any], keep: int) -> Path:
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / checkpoint_name(step)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=ckpt_dir)
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            torch.save({"format": FORMAT, "step": step, **state}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _publish(ckpt_dir, path, keep)
    return path


def save_sharded_checkpoint(ckpt_dir: str | os.PathLike, step: int, tensors: dict[str, Any], meta: dict[str, Any],
                            keep: int, is_main: bool, barrier: Callable[[], None]) -> Path:
    """Collective: every rank writes its own shards of `tensors` ({"model": ..., "optimizer": ...} from
    get_state_dict, sharded) into a temporary directory; rank 0 then adds meta.pt and renames it."""
    import torch.distributed.checkpoint as dcp

    ckpt_dir = Path(ckpt_dir)
    final = ckpt_dir / checkpoint_name(step, sharded=True)
    tmp = ckpt_dir / f".{final.name}.tmp"
    if is_main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    barrier()
    dcp.save(tensors, checkpoint_id=str(tmp))
    barrier()
    if is_main:
        with open(tmp / META, "wb") as fh:
            torch.save({"format": FORMAT, "step": step, "sharded": True, **meta}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        remove_checkpoint(final)
        os.replace(tmp, final)
        _publish(ckpt_dir, final, keep)
    barrier()
    return final


def latest_checkpoint(ckpt_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint, or None. Stale temporaries of a killed save are ignored."""
    ckpt_dir = Path(ckpt_dir)
    pointer = ckpt_dir / LATEST
    if pointer.is_file():
        path = ckpt_dir / pointer.read_text(encoding="utf-8").strip()
        if path.is_file() or (path / META).is_file():
            return path
    found = _all_checkpoints(ckpt_dir) if ckpt_dir.is_dir() else []
    return found[-1] if found else None


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Everything but the tensors of a sharded checkpoint (those: `load_sharded`, `load_model_state`);
    everything of a single-file one."""
    path = Path(path)
    # weights_only=False: the file also holds numpy/python RNG states; it is our own local output.
    state = torch.load(path / META if path.is_dir() else path, map_location="cpu", weights_only=False)
    if state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file (format {state.get('format')!r})")
    return state


def load_sharded(path: str | os.PathLike, tensors: dict[str, Any]) -> None:
    """Collective under a process group: fill `tensors` (same structure as saved) in place."""
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp

    dcp.load(tensors, checkpoint_id=str(path), no_dist=not dist.is_initialized())


def load_model_state(path: str | os.PathLike, template: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Model weights of a checkpoint of either layout, into CPU tensors shaped like `template`."""
    path = Path(path)
    if not path.is_dir():
        return load_checkpoint(path)["model"]
    target = {"model": {k: torch.empty_like(v, device="cpu") for k, v in template.items()}}
    load_sharded(path, target)
    return target["model"]


def plain(meta: Any) -> Any:
    """A fresh copy of JSON-able metadata. Pickle writes a string seen before as a back-reference to
    the same object, so the bytes depend on which strings are shared objects: a resumed run's
    counters (keys unpickled from the checkpoint) would otherwise not match an uninterrupted run's.
    Copied through JSON, every run's metadata has the same sharing."""
    import json

    return json.loads(json.dumps(meta))


def rng_state() -> dict[str, Any]:
    # Python's global `random` is not used by training, and other threads of the process (Prefect's
    # clients) draw from it at unpredictable times: its state would make checkpoints differ run to run.
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    if "python" in state:  # checkpoints written before it was left out
        random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
