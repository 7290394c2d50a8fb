"""The instruction-tuning loop: pretrain's model, runtime, optimizer, schedule and checkpoints on
instruction rows instead of packed windows.

Starts from the pretrained HF export (`tasks.pretrain.export.load_hf`), so the weights, RoPE settings
and vocabulary are exactly the base model's. Each optimizer step takes batch_size * grad_accum rows in
a seeded pseudo-random order per epoch (pretrain's Feistel `Sampler`, so the only data state to
checkpoint is the number of rows consumed); the loss is the mean cross-entropy over the step's
response tokens (prompt and padding labels are ignored). A killed run resumes from
`out_dir/checkpoints/latest` when its fingerprint (config, base weights, data) matches; on CPU with a
fixed seed and thread count, reruns write byte-identical checkpoints. One process: the small models
this runs here fit on one device (multi-GPU SFT would reuse pretrain's DDP wrapper).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict

from tasks.common.hashing import sha256_hex
from tasks.common.io import dumps_json
from tasks.pretrain import checkpoint as ckpt
from tasks.pretrain.data import Sampler
from tasks.pretrain.export import load_hf
from tasks.pretrain.model import Transformer, count_params
from tasks.pretrain.schedule import phase_lr, plan
from tasks.pretrain.train import (Runtime, build_optimizer, open_live, restore_group_types, seed_everything, setup_runtime,
                                  truncate_log)
from tasks.sft.config import SftConfig
from tasks.sft.data import IGNORE, Encoded, Example, collate, load_examples
from tasks.tokenizer.special import PAD

LOG_FILE = "train_log.jsonl"
# Settings that change how a run executes or reports, not what it trains (see pretrain's OPERATIONAL_KEYS).
OPERATIONAL_KEYS = ("threads", "device", "precision", "checkpoint_every", "keep_checkpoints", "log_every",
                    "loss_rows", "evaluate")


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_fingerprint(cfg: SftConfig, base_dir: Path, instruct_path: Path, tokenizer_path: Path) -> str:
    what = {k: v for k, v in cfg.to_dict().items() if k not in OPERATIONAL_KEYS}
    what["base"] = {name: file_sha256(base_dir / name) for name in ("config.json", "model.safetensors")}
    what["data"] = file_sha256(instruct_path)
    what["tokenizer"] = file_sha256(tokenizer_path)
    return sha256_hex(dumps_json(what).encode("utf-8"))


def step_rows(sampler: Sampler, consumed: int, n: int) -> np.ndarray:
    return sampler.window_index(np.arange(consumed, consumed + n, dtype=np.int64))


def batch_loss(raw: torch.nn.Module, batch: Sequence[Example], pad_id: int, rt: Runtime) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the batch's response tokens, and how many there are."""
    x, y = collate(batch, pad_id)
    x_t, y_t = torch.from_numpy(x).to(rt.device), torch.from_numpy(y).to(rt.device)
    with rt.autocast():
        logits = raw(x_t)
    loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y_t.view(-1), ignore_index=IGNORE,
                           reduction="sum")
    return loss, int((y != IGNORE).sum())


@torch.no_grad()
def response_loss(raw: torch.nn.Module, examples: Sequence[Example], batch_size: int, pad_id: int,
                  rt: Runtime) -> float | None:
    """Mean loss per response token over `examples` (the fixed probe rows measured before and after)."""
    if not examples:
        return None
    was_training = raw.training
    raw.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), batch_size):
        loss, n = batch_loss(raw, examples[i:i + batch_size], pad_id, rt)
        total, count = total + float(loss), count + n
    raw.train(was_training)
    return total / count if count else None


def load_base(base_dir: Path, vocab: int, rt: Runtime, seed: int) -> Transformer:
    mcfg, state = load_hf(base_dir)
    if vocab > mcfg.vocab_size:
        raise ValueError(f"{base_dir}: model vocab {mcfg.vocab_size} < tokenizer vocab {vocab} (tokenizer and base disagree)")
    torch.manual_seed(seed)  # the initial weights are all overwritten; seeded anyway
    raw = Transformer(mcfg)
    raw.load_state_dict(state, strict=True)
    return raw.to(rt.device)


def save(raw: torch.nn.Module, opt: torch.optim.Optimizer, cfg: SftConfig, ckpt_dir: Path, done: int,
         consumed: int, progress: dict[str, Any], lr: float, fingerprint: str) -> None:
    """Pretrain's checkpoint layout, so `export_hf` exports it unchanged."""
    model_sd, optim_sd = get_state_dict(raw, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    ckpt.save_checkpoint(ckpt_dir, done, {
        "model": model_sd, "optimizer": optim_sd,
        "scheduler": ckpt.plain({"phase": "sft", "phase_step": done, "last_lr": lr}),
        "data": ckpt.plain({"consumed": {"sft": consumed}, "world_size": 1}),
        "rng": ckpt.rng_state(),
        "progress": ckpt.plain(progress),
        "model_config": raw.cfg.to_dict(),
        "rope": {"theta": raw.rope_theta, "scaling": raw.rope_scaling},
        "train_config": cfg.to_dict(),
        "fingerprint": fingerprint,
    }, keep=cfg.keep_checkpoints)


def loss_curve(losses: Sequence[float]) -> dict[str, Any]:
    """First/last/min and the means of the first and last tenth (at least one step each)."""
    if not losses:
        return {}
    k = max(1, len(losses) // 10)
    return {"first": losses[0], "last": losses[-1], "min": min(losses), "mean_first": float(np.mean(losses[:k])),
            "mean_last": float(np.mean(losses[-k:])), "window": k}


def train(cfg: SftConfig, instruct_path: str | os.PathLike, tokenizer_path: str | os.PathLike,
          out_dir: str | os.PathLike, live_dir: str | os.PathLike | None = None, *,
          base_dir: str | os.PathLike | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Tune (or resume) per `cfg`; returns the run's metrics. `stop_after` ends the run after that many
    steps as if killed there (checkpoints only where `checkpoint_every` says), for resume tests."""
    from tokenizers import Tokenizer

    instruct_path, tokenizer_path, out_dir = Path(instruct_path), Path(tokenizer_path), Path(out_dir)
    base_dir = Path(base_dir or cfg.base_model)
    encoded: Encoded = load_examples(instruct_path, tokenizer_path, cfg.system, cfg.max_seq_len, cfg.overlong)
    examples = encoded.examples
    if not examples:
        raise ValueError(f"{instruct_path}: no usable instruction rows (dropped: {dict(encoded.dropped)})")
    total = cfg.total_steps(len(examples))
    tcfg = cfg.train_config(total)
    rt = setup_runtime(tcfg)
    seed_everything(cfg.seed)
    tok = Tokenizer.from_file(str(tokenizer_path))
    pad_id = tok.token_to_id(PAD)
    raw = load_base(base_dir, tok.get_vocab_size(), rt, cfg.seed)
    opt = build_optimizer(tcfg, raw)
    (planned,) = plan(tcfg)
    sampler = Sampler(len(examples), cfg.seed, "sft")
    probe = [examples[int(i)] for i in sorted(step_rows(Sampler(len(examples), cfg.seed, "probe"), 0,
                                                         min(cfg.loss_rows, len(examples))))]
    per_step = cfg.batch_size * cfg.grad_accum

    ckpt_dir = out_dir / "checkpoints"
    fingerprint = run_fingerprint(cfg, base_dir, instruct_path, tokenizer_path)
    start, consumed, resumed = 0, 0, None
    progress: dict[str, Any] = {"tokens": 0, "response_tokens": 0, "losses": [], "phases": {}}
    latest = ckpt.latest_checkpoint(ckpt_dir)
    state = ckpt.load_checkpoint(latest) if latest is not None else None
    finished = state is not None and state.get("step", 0) >= total
    if state is not None and (state.get("fingerprint") != fingerprint or finished):
        why = "is a finished run" if finished else "belongs to a different run (config, base model or data changed)"
        print(f"sft: {latest} {why}; starting afresh", file=sys.stderr)
        state = None
        for stale in [*ckpt_dir.glob("step-*.pt"), ckpt_dir / ckpt.LATEST]:
            stale.unlink(missing_ok=True)
    # the probe loss of the base model is measured on the restored weights only when starting afresh
    loss_before = response_loss(raw, probe, cfg.batch_size, pad_id, rt) if state is None else None
    if state is not None:
        set_state_dict(raw, opt, model_state_dict=state["model"], optim_state_dict=state["optimizer"],
                       options=StateDictOptions(full_state_dict=True))
        restore_group_types(opt)
        start, consumed, progress = state["step"], state["data"]["consumed"]["sft"], state["progress"]
        loss_before = progress.get("probe_loss_before")
        ckpt.set_rng_state(state["rng"])
        resumed = start
        del state
    progress["probe_loss_before"] = loss_before

    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / LOG_FILE
    truncate_log(log_path, start)
    live = open_live(live_dir, start) if live_dir is not None else None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=start, desc="sft", mininterval=2.0, file=sys.stderr, dynamic_ncols=True)
    t_start, train_s, done, lr = time.perf_counter(), 0.0, start, planned.start_lr
    raw.train()
    try:
        with open(log_path, "a", encoding="utf-8") as log_fh:
            for step in range(start, total):
                lr = phase_lr(planned, step)
                for group in opt.param_groups:
                    group["lr"] = lr
                t0 = time.perf_counter()
                batch = [examples[int(i)] for i in step_rows(sampler, consumed, per_step)]
                micro = [batch[i:i + cfg.batch_size] for i in range(0, per_step, cfg.batch_size)]
                n_loss = sum(e.n_loss for e in batch)
                loss_sum = 0.0
                for mb in micro:
                    loss, _ = batch_loss(raw, mb, pad_id, rt)
                    (loss / n_loss).backward()  # the step's mean over all its response tokens
                    loss_sum += float(loss.detach())
                grad_norm = torch.nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip) if cfg.grad_clip > 0 else None
                opt.step()
                opt.zero_grad(set_to_none=True)
                train_s += time.perf_counter() - t0
                consumed += per_step
                done = step + 1
                loss_value = loss_sum / n_loss
                step_tokens = sum(len(e.ids) for e in batch)
                progress["tokens"] += step_tokens
                progress["response_tokens"] += n_loss
                progress["losses"].append(loss_value)
                progress["phases"]["sft"] = {"steps": done, "tokens": progress["tokens"], "seq_len": cfg.max_seq_len}
                record: dict[str, Any] = {"step": done, "loss": loss_value, "lr": lr, "tokens": progress["tokens"],
                                          "response_tokens": progress["response_tokens"],
                                          "epoch": round(consumed / len(examples), 6)}
                if grad_norm is not None:
                    record["grad_norm"] = float(grad_norm)
                log_fh.write(json.dumps(record, sort_keys=True) + "\n")
                log_fh.flush()
                if live is not None and (done % cfg.log_every == 0 or done == total):
                    live.step = done
                    for key in ("loss", "lr"):
                        live.log_metric(f"train/{key}", record[key])
                    live.sync()
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", refresh=False)
                if done % cfg.checkpoint_every == 0 or done == total:
                    save(raw, opt, cfg, ckpt_dir, done, consumed, progress, lr, fingerprint)
                if stop_after is not None and done >= stop_after:
                    break
    finally:
        bar.close()
    if live is not None:
        live.end()
    loss_after = response_loss(raw, probe, cfg.batch_size, pad_id, rt) if done == total else None
    return {
        "steps": done,
        "total_steps": total,
        "resumed_from_step": resumed,
        "epochs": round(consumed / len(examples), 6),
        "tokens": progress["tokens"],
        "response_tokens": progress["response_tokens"],
        "loss": loss_curve(progress["losses"]),
        "probe": {"rows": len(probe), "loss_before": loss_before, "loss_after": loss_after},
        "data": encoded.stats(),
        "lr": {"peak": cfg.lr, "warmup": planned.phase.warmup, "end": planned.end_lr, "last": lr},
        "batch": {"batch_size": cfg.batch_size, "grad_accum": cfg.grad_accum, "rows_per_step": per_step},
        "base_model": str(base_dir),
        "device": rt.device.type,
        "precision": "bf16" if rt.amp_dtype else "fp32",
        "threads": cfg.threads,
        **count_params(raw),
        "wall_time_s": time.perf_counter() - t_start,
        "tokens_per_s": progress["tokens"] / train_s if train_s and resumed is None else None,
    }
