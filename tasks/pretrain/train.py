"""Pre-training loop (DeepSeek-Coder §3.4-3.5): one script for 1 process or N under torchrun.

    python -m tasks.pretrain.train --config params.yaml --data-dir data/packed \
        --tokenizer models/tokenizer/tokenizer.json --out-dir models/pretrain --live-dir dvclive/pretrain
    torchrun --nproc_per_node 8 [--nnodes 2 --rdzv-endpoint host:29500] -m tasks.pretrain.train ...

AdamW, gradient clipping and accumulation, the phase schedule of `schedule.py`; bf16 autocast on GPU,
fp32 on CPU; DDP (gloo on CPU, nccl on GPU) or FSDP2 (`parallel: fsdp`) when WORLD_SIZE > 1.
Every run resumes from `out_dir/checkpoints/latest` when that checkpoint has the same run fingerprint
(training config + data headers; see OPERATIONAL_KEYS): model, optimizer, step, data position
and RNG states are restored, so a killed run continues the same loss curve (bit-exact on CPU for the
same seed, thread count and world size). Rank 0 logs loss, learning rate, tokens/s and MFU to dvclive,
`out_dir/train_log.jsonl` and a tqdm bar.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_state_dict, set_model_state_dict,
                                                     set_state_dict)

from tasks.common.hashing import sha256_hex
from tasks.common.io import atomic_write_json, dumps_json
from tasks.pretrain import checkpoint as ckpt
from tasks.pretrain.config import TrainConfig, config_from_params
from tasks.pretrain.data import Sampler, TokenWindows, eval_windows, micro_batch
from tasks.pretrain.flops import peak_flops
from tasks.pretrain.model import ModelConfig, Transformer, count_params, flops_per_token, load_model_config
from tasks.pretrain.schedule import PlannedPhase, locate, phase_lr, plan

LOG_FILE = "train_log.jsonl"
SPEED_KEYS = ("tokens_per_s", "mfu")


@dataclass
class Runtime:
    rank: int
    world: int
    device: torch.device
    amp_dtype: torch.dtype | None  # None = fp32 throughout

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


def setup_runtime(cfg: TrainConfig) -> Runtime:
    """Device, precision and process group from the config and torchrun's env vars
    (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT: multi-node works the same way)."""
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("pretrain.device: cuda requested but torch.cuda.is_available() is False")
    cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo", device_id=device if cuda else None)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and cuda)
    torch.set_num_threads(cfg.threads)
    if not cuda:  # CPU kernels have deterministic variants; on GPU we keep the fast ones
        torch.use_deterministic_algorithms(True, warn_only=True)
    return Runtime(rank, world, device, torch.bfloat16 if bf16 else None)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model(cfg: TrainConfig, mcfg: ModelConfig, rt: Runtime) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(module to call for training, the plain Transformer underneath). Every rank builds the same
    initial weights from the seed; DDP also broadcasts them."""
    torch.manual_seed(cfg.seed)
    raw = Transformer(mcfg).to(rt.device)
    model: torch.nn.Module = raw
    if rt.distributed and cfg.parallel == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=rt.amp_dtype, reduce_dtype=torch.float32)
        for layer in raw.layers:
            fully_shard(layer, mp_policy=mp)
        fully_shard(raw, mp_policy=mp)
    elif rt.distributed:
        model = torch.nn.parallel.DistributedDataParallel(raw, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    if cfg.compile:
        model = torch.compile(model)
    return model, raw


def build_optimizer(cfg: TrainConfig, raw: torch.nn.Module) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices (embeddings included), none on norm gains."""
    decay = [p for _, p in raw.named_parameters() if p.ndim >= 2]
    no_decay = [p for _, p in raw.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=1e-8)


@contextlib.contextmanager
def grad_sync(model: torch.nn.Module, raw: torch.nn.Module, rt: Runtime, cfg: TrainConfig, sync: bool) -> Iterator[None]:
    """Skip the gradient all-reduce on all but the last micro-step of an accumulation."""
    if not rt.distributed or sync:
        if rt.distributed and cfg.parallel == "fsdp":
            raw.set_requires_gradient_sync(True)
        yield
    elif cfg.parallel == "fsdp":
        raw.set_requires_gradient_sync(False)
        yield
    else:
        ddp = getattr(model, "_orig_mod", model)
        with ddp.no_sync():
            yield


def restore_group_types(opt: torch.optim.Optimizer) -> None:
    """set_state_dict hands AdamW's `betas` back as a list where a fresh optimizer holds a tuple: pickled
    into the next checkpoint, that alone made a resumed run's files differ from an uninterrupted run's."""
    for group in opt.param_groups:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])


def all_mean(value: torch.Tensor, rt: Runtime) -> torch.Tensor:
    if rt.distributed:
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= rt.world
    return value


# Settings that change how a run executes or reports, not what it trains: a checkpoint written under
# other values of these is resumed; any other change (or changed training data) starts afresh.
OPERATIONAL_KEYS = ("threads", "compile", "device", "precision", "parallel", "checkpoint_every", "keep_checkpoints",
                    "eval_every", "eval_batches", "val_split", "log_every", "peak_flops")


def run_fingerprint(cfg: TrainConfig, mcfg: ModelConfig, phases: list[PlannedPhase], data_dir: Path) -> str:
    what = {k: v for k, v in cfg.to_dict().items() if k not in OPERATIONAL_KEYS}
    what["model_config"] = mcfg.to_dict()
    splits = sorted({p.phase.split for p in phases})
    what["data"] = {s: sha256_hex((data_dir / s / "header.json").read_bytes()) for s in splits}
    return sha256_hex(dumps_json(what).encode("utf-8"))


@dataclass
class PhaseData:
    planned: PlannedPhase
    seq_len: int
    batch_size: int
    grad_accum: int
    rope_theta: float
    rope_scaling: float
    windows: TokenWindows
    sampler: Sampler
    val: TokenWindows | None = None
    val_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def open_phase(cfg: TrainConfig, mcfg: ModelConfig, planned: PlannedPhase, data_dir: Path, rt: Runtime) -> PhaseData:
    p = planned.phase
    split_dir = data_dir / p.split
    if not (split_dir / "header.json").is_file():
        raise FileNotFoundError(f"pretrain.phases: phase {p.name!r} reads split {p.split!r} but {split_dir}/header.json is missing")
    packed = TokenWindows(split_dir, 1).packed_len
    seq_len = p.seq_len or packed
    windows = TokenWindows(split_dir, seq_len)
    if windows.vocab_size > mcfg.vocab_size:
        raise ValueError(f"{split_dir}: packed with vocab_size {windows.vocab_size} > model vocab {mcfg.vocab_size} "
                         "(tokenizer and packed data disagree)")
    b, a = p.batch_size or cfg.batch_size, p.grad_accum or cfg.grad_accum
    if windows.n_windows < b * rt.world:
        raise ValueError(f"{split_dir}: {windows.n_windows} windows of {seq_len} tokens, fewer than one global micro-batch")
    phase = PhaseData(planned, seq_len, b, a, p.rope_theta or mcfg.rope_theta, p.rope_scaling or mcfg.rope_scaling,
                      windows, Sampler(windows.n_windows, cfg.seed, p.name))
    val_dir = data_dir / cfg.val_split
    if (val_dir / "header.json").is_file():
        val = TokenWindows(val_dir, seq_len)
        n = min(cfg.eval_batches * b, val.n_windows)  # independent of world size: comparable across runs
        if n:
            phase.val, phase.val_index = val, eval_windows(val, n, cfg.seed)
    return phase


@torch.no_grad()
def evaluate(raw: torch.nn.Module, phase: PhaseData, rt: Runtime) -> float | None:
    """Mean loss over the phase's fixed validation windows, dealt round-robin to the ranks. Every
    rank runs the same number of forward passes (FSDP all-gathers in each); a rank with nothing left
    runs one window with weight 0."""
    if phase.val is None:
        return None
    raw.eval()
    b, index = phase.batch_size, phase.val_index
    mine = index[rt.rank::rt.world]
    n_batches = -(-(-(-len(index) // rt.world)) // b)
    total = torch.zeros(2, dtype=torch.float64, device=rt.device)
    for k in range(n_batches):
        chunk, weight = mine[k * b:(k + 1) * b], 1.0
        if len(chunk) == 0:
            chunk, weight = index[:1], 0.0
        rows = np.stack([phase.val.window(int(i)) for i in chunk])
        x = torch.from_numpy(rows[:, :-1]).to(rt.device)
        y = torch.from_numpy(rows[:, 1:]).to(rt.device)
        with rt.autocast():
            loss = raw(x, y)
        total += torch.tensor([loss.item() * len(rows) * weight, len(rows) * weight], dtype=torch.float64, device=rt.device)
    if rt.distributed:
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
    raw.train()
    return float(total[0] / total[1])


def open_live(live_dir: str | os.PathLike, start_step: int) -> Any:
    """dvclive logger inside a DVC stage: no experiment commits, no dvc.yaml of its own (the stage's
    dvc.yaml declares the plots). On resume, rows past the checkpoint are dropped so the curve has one
    value per step."""
    from dvclive import Live

    if start_step > 0:
        for tsv in Path(live_dir, "plots", "metrics").rglob("*.tsv"):
            lines = tsv.read_text(encoding="utf-8").splitlines(keepends=True)
            head, rows = lines[:1], lines[1:]
            col = head[0].rstrip("\r\n").split("\t").index("step") if head else 0
            tsv.write_text("".join(head + [r for r in rows if int(r.split("\t")[col]) <= start_step]), encoding="utf-8")
    return Live(dir=str(live_dir), resume=start_step > 0, save_dvc_exp=False, dvcyaml=None, report=None)


def truncate_log(path: Path, start_step: int) -> None:
    keep = []
    if start_step > 0 and path.is_file():
        keep = [line for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line)["step"] <= start_step]
    path.write_text("".join(line + "\n" for line in keep), encoding="utf-8")


def _check_tokens(x: np.ndarray, y: np.ndarray, vocab: int, split: str) -> None:
    top = max(int(x.max()), int(y.max()))
    if top >= vocab:
        raise ValueError(f"split {split!r}: token id {top} >= model vocab {vocab}")


def train(cfg: TrainConfig, data_dir: str | os.PathLike, tokenizer_path: str | os.PathLike,
          out_dir: str | os.PathLike, live_dir: str | os.PathLike | None = None, *,
          stop_after: int | None = None, speed_log: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train (or resume) per `cfg`; returns the run's metrics (rank 0's are the ones to record).

    `stop_after` ends the run after that many global steps as if the process were killed there
    (checkpoints are written only where `checkpoint_every` says), for resume tests and time-boxed runs.
    """
    from tokenizers import Tokenizer

    rt = setup_runtime(cfg)
    seed_everything(cfg.seed)
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    vocab = Tokenizer.from_file(str(tokenizer_path)).get_vocab_size()
    mcfg = load_model_config(cfg.model).with_vocab(vocab)
    phases = plan(cfg)
    total = phases[-1].end_step
    for planned in phases:  # fail on a missing split before any compute
        open_phase(cfg, mcfg, planned, data_dir, rt)

    model, raw = build_model(cfg, mcfg, rt)
    opt = build_optimizer(cfg, raw)

    start_step, consumed, progress, resumed = 0, {}, {"tokens": 0, "elapsed_s": 0.0, "phases": {}}, None
    fingerprint = run_fingerprint(cfg, mcfg, phases, data_dir)
    latest = ckpt.latest_checkpoint(ckpt_dir)
    state = ckpt.load_checkpoint(latest) if latest is not None else None
    if rt.distributed:
        dist.barrier()  # every rank has read it before rank 0 may delete it
    # A checkpoint resumes a killed run. One of the same config at the final step is a finished run: DVC
    # only reruns the stage when an input changed (the training code, say), so that starts afresh too.
    finished = state is not None and state.get("step", 0) >= total
    continued_from = None
    if state is not None and (state.get("fingerprint") != fingerprint or finished):
        why = "is a finished run" if finished else "belongs to a different run (config or data changed)"
        if cfg.continual and state.get("step", 0) > 0 and not latest.is_dir():
            # continual pretraining (a nightly refresh's new tokens): the weights go on, the optimizer
            # and the schedule start again on this run's phases
            set_model_state_dict(raw, state["model"], options=StateDictOptions(full_state_dict=True))
            continued_from = {"checkpoint": latest.name, "step": int(state.get("step", 0)),
                              "fingerprint": state.get("fingerprint")}
            print(f"pretrain: continuing from the weights of {latest} ({why})", file=sys.stderr)
        else:
            print(f"pretrain: {latest} {why}; starting afresh", file=sys.stderr)
        state = None
        if rt.main:
            for stale in [*ckpt_dir.glob("step-*.pt"), ckpt_dir / ckpt.LATEST]:
                stale.unlink(missing_ok=True)
        if rt.distributed:
            dist.barrier()
    if state is not None and latest.is_dir():  # sharded (DCP): each rank reads its own shards
        model_sd, optim_sd = get_state_dict(raw, opt)
        ckpt.load_sharded(latest, {"model": model_sd, "optimizer": optim_sd})
        set_state_dict(raw, opt, model_state_dict=model_sd, optim_state_dict=optim_sd)
    elif state is not None:
        set_state_dict(raw, opt, model_state_dict=state["model"], optim_state_dict=state["optimizer"],
                       options=StateDictOptions(full_state_dict=True))
    if state is not None:
        restore_group_types(opt)
        start_step, consumed, progress = state["step"], dict(state["data"]["consumed"]), state["progress"]
        progress.setdefault("elapsed_s", 0.0)  # wall time is not checkpointed: counted from this resume on
        ckpt.set_rng_state(state["rng"])
        resumed = start_step
        del state

    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_FILE
    live = None
    if rt.main:
        truncate_log(log_path, start_step)
        live = open_live(live_dir, start_step) if live_dir is not None else None
    log_fh = open(log_path, "a", encoding="utf-8") if rt.main else None
    # tokens/s and MFU depend on the machine and its load: kept out of out_dir and dvclive (DVC outputs,
    # byte-identical across runs) and appended to `speed_log` when one is given
    speed_fh = None
    if rt.main and speed_log is not None:
        Path(speed_log).parent.mkdir(parents=True, exist_ok=True)
        speed_fh = open(speed_log, "a", encoding="utf-8")
    peak, peak_source = peak_flops(rt.device, rt.amp_dtype or torch.float32, cfg.peak_flops)

    from tqdm import tqdm

    bar = tqdm(total=total, initial=start_step, disable=not rt.main, desc="pretrain", mininterval=2.0,
               file=sys.stderr, dynamic_ncols=True)
    run_tokens, run_flops, run_train_s, t_start = 0, 0.0, 0.0, time.perf_counter()
    phase: PhaseData | None = None
    last_loss, last_val, done = progress.get("last_loss"), progress.get("last_val_loss"), start_step
    model.train()
    try:
        for step in range(start_step, total):
            planned, s = locate(phases, step)
            if phase is None or phase.planned is not planned:
                phase = open_phase(cfg, mcfg, planned, data_dir, rt)
                raw.set_rope(phase.rope_theta, phase.rope_scaling)
            name, b, a = planned.phase.name, phase.batch_size, phase.grad_accum
            lr = phase_lr(planned, s)
            for group in opt.param_groups:
                group["lr"] = lr
            t0 = time.perf_counter()
            c0 = consumed.get(name, 0)
            loss_sum = torch.zeros((), device=rt.device)
            for micro in range(a):
                x, y = micro_batch(phase.windows, phase.sampler, c0, micro, rt.rank, rt.world, b)
                _check_tokens(x, y, mcfg.vocab_size, planned.phase.split)
                x_t, y_t = torch.from_numpy(x).to(rt.device), torch.from_numpy(y).to(rt.device)
                with grad_sync(model, raw, rt, cfg, sync=micro == a - 1), rt.autocast():
                    loss = model(x_t, y_t)
                (loss / a).backward()
                loss_sum += loss.detach()
            grad_norm = torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip) if cfg.grad_clip > 0 else None
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss_value = float(all_mean(loss_sum / a, rt).item())
            if rt.device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            consumed[name] = c0 + b * a * rt.world
            step_tokens = b * a * rt.world * phase.seq_len
            step_flops = step_tokens * flops_per_token(mcfg, phase.seq_len)
            run_tokens, run_flops, run_train_s = run_tokens + step_tokens, run_flops + step_flops, run_train_s + dt
            progress["tokens"] += step_tokens
            ph = progress["phases"].setdefault(name, {"steps": 0, "tokens": 0, "seq_len": phase.seq_len,
                                                      "rope_theta": phase.rope_theta, "rope_scaling": phase.rope_scaling})
            ph["steps"] += 1
            ph["tokens"] += step_tokens
            ph["train_loss"] = last_loss = loss_value
            done = step + 1
            record: dict[str, Any] = {"step": done, "phase": name, "loss": loss_value, "lr": lr, "tokens": progress["tokens"],
                                      "tokens_per_s": step_tokens / dt, "mfu": step_flops / dt / (peak * rt.world)}
            if grad_norm is not None:
                record["grad_norm"] = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
            phase_end = done == planned.end_step
            if (cfg.eval_every and done % cfg.eval_every == 0) or phase_end:
                val = evaluate(raw, phase, rt)
                if val is not None:
                    record["val_loss"] = ph["val_loss"] = last_val = val
            progress["last_loss"], progress["last_val_loss"] = last_loss, last_val
            progress["elapsed_s"] += time.perf_counter() - t0
            if rt.main:
                speed = {k: record.pop(k) for k in SPEED_KEYS}
                log_fh.write(json.dumps(record, sort_keys=True) + "\n")
                log_fh.flush()
                if speed_fh is not None:
                    speed_fh.write(json.dumps({"step": done, **speed}, sort_keys=True) + "\n")
                    speed_fh.flush()
                record.update(speed)
                if live is not None and (done % cfg.log_every == 0 or "val_loss" in record or phase_end):
                    live.step = done
                    for key in ("loss", "lr"):
                        live.log_metric(f"train/{key}", record[key])
                    if "val_loss" in record:
                        live.log_metric("val/loss", record["val_loss"])
                    live.sync()
                bar.update(1)
                bar.set_postfix(phase=name, loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", tok_s=f"{record['tokens_per_s']:.0f}",
                                refresh=False)
            if done % cfg.checkpoint_every == 0 or done == total:
                t_ck = time.perf_counter()
                save(cfg, mcfg, raw, opt, rt, ckpt_dir, done, consumed, progress, planned, s, lr, fingerprint)
                progress["elapsed_s"] += time.perf_counter() - t_ck
            if stop_after is not None and done >= stop_after:
                break
    finally:
        bar.close()
        if log_fh is not None:
            log_fh.close()
        if speed_fh is not None:
            speed_fh.close()
    if live is not None:
        live.end()
    run_wall = time.perf_counter() - t_start
    params = count_params(raw) if cfg.parallel != "fsdp" or not rt.distributed else _param_counts(mcfg)
    last_phase = phase or open_phase(cfg, mcfg, phases[-1], data_dir, rt)
    return {
        "steps": done,
        "total_steps": total,
        "resumed_from_step": resumed,
        "continued_from": continued_from,
        "train_loss": last_loss,
        "val_loss": last_val,
        "tokens": progress["tokens"],
        "tokens_per_s": run_tokens / run_train_s if run_train_s else None,
        "mfu": run_flops / run_train_s / (peak * rt.world) if run_train_s else None,
        "wall_time_s": progress["elapsed_s"],
        "run_wall_time_s": run_wall,
        "flops_per_token": flops_per_token(mcfg, last_phase.seq_len),
        "peak_flops_per_device": peak,
        "peak_flops_source": peak_source,
        "world_size": rt.world,
        "device": str(rt.device.type),
        "precision": "bf16" if rt.amp_dtype else "fp32",
        "threads": cfg.threads,
        "model": cfg.model,
        "vocab_size": mcfg.vocab_size,
        **params,
        "phases": progress["phases"],
    }


def _param_counts(mcfg: ModelConfig) -> dict[str, int]:
    with torch.device("meta"):
        return count_params(Transformer(mcfg))


def save(cfg: TrainConfig, mcfg: ModelConfig, raw: torch.nn.Module, opt: torch.optim.Optimizer, rt: Runtime,
         ckpt_dir: Path, done: int, consumed: dict[str, int], progress: dict[str, Any], planned: PlannedPhase,
         phase_step: int, lr: float, fingerprint: str) -> None:
    """FSDP: every rank writes its shards (DCP directory). Otherwise: full state, written by rank 0."""
    meta = {
        "scheduler": ckpt.plain({"phase": planned.phase.name, "phase_step": phase_step + 1, "last_lr": lr}),
        # data position: samples consumed per phase (global); rank r's next micro-batch starts at
        # sample consumed + r * batch_size of the phase's order (data.micro_batch)
        "data": ckpt.plain({"consumed": dict(consumed), "world_size": rt.world,
                            "next_sample_per_rank": [consumed.get(planned.phase.name, 0) + r * (planned.phase.batch_size or cfg.batch_size)
                                                     for r in range(rt.world)]}),
        "rng": ckpt.rng_state(),
        # wall-clock time stays out of the checkpoint, so the same run gives the same bytes (DVC hashes)
        "progress": ckpt.plain({k: v for k, v in progress.items() if k != "elapsed_s"}),
        "model_config": mcfg.to_dict(),
        "rope": {"theta": raw.rope_theta, "scaling": raw.rope_scaling},
        "train_config": cfg.to_dict(),
        "fingerprint": fingerprint,
    }
    barrier = dist.barrier if rt.distributed else (lambda: None)
    if rt.distributed and cfg.parallel == "fsdp":
        model_sd, optim_sd = get_state_dict(raw, opt)
        ckpt.save_sharded_checkpoint(ckpt_dir, done, {"model": model_sd, "optimizer": optim_sd}, meta,
                                     cfg.keep_checkpoints, rt.main, barrier)
        return
    model_sd, optim_sd = get_state_dict(raw, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rt.main:
        ckpt.save_checkpoint(ckpt_dir, done, {"model": model_sd, "optimizer": optim_sd, **meta}, keep=cfg.keep_checkpoints)
    barrier()


def load_section(path: str | os.PathLike, overrides: list[str]) -> dict[str, Any]:
    """The `pretrain` section of a params file (or a file that is the section itself), with
    `key=value` overrides parsed as YAML."""
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    section = dict(data["pretrain"]) if isinstance(data, dict) and isinstance(data.get("pretrain"), dict) else dict(data)
    for item in overrides:
        key, _, value = item.partition("=")
        section[key.strip()] = yaml.safe_load(value)
    return section


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="params.yaml", help="params.yaml (its `pretrain` section) or a section file")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a pretrain key")
    ap.add_argument("--data-dir", default="data/packed")
    ap.add_argument("--tokenizer", default="models/tokenizer/tokenizer.json")
    ap.add_argument("--out-dir", default="models/pretrain")
    ap.add_argument("--live-dir", default="dvclive/pretrain", help="dvclive directory ('' = no dvclive)")
    ap.add_argument("--metrics", default=None, help="write the metrics JSON here (rank 0)")
    ap.add_argument("--stop-after", type=int, default=None, help="stop after this global step (simulated kill)")
    args = ap.parse_args(argv)
    cfg = config_from_params(load_section(args.config, args.set))
    try:
        metrics = train(cfg, args.data_dir, args.tokenizer, args.out_dir, args.live_dir or None, stop_after=args.stop_after)
        if int(os.environ.get("RANK", "0")) == 0:
            if args.metrics:
                atomic_write_json(args.metrics, metrics)
            print(json.dumps({k: v for k, v in metrics.items() if k != "phases"}, sort_keys=True))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
