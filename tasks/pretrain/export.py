"""Export a training checkpoint as a Hugging Face Llama directory (what `evaluate` and users load).

    python -m tasks.pretrain.export --checkpoint models/pretrain --tokenizer models/tokenizer/tokenizer.json \
        --out models/export

Writes `model.safetensors`, `config.json` (LlamaForCausalLM), `generation_config.json` and the
tokenizer files, built in a temporary directory and swapped into place. Our parameter names are HF's
without the `model.` prefix, so the export is a rename, and `load_hf` reads such a directory back
into our Transformer (instruction tuning starts from the pretrained export). RoPE is exported as trained last (after a
long-context phase: its base and linear factor), written both as transformers 5 `rope_parameters`
and as the older `rope_theta` + `rope_scaling` keys so either major version loads it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from tasks.common.io import atomic_dir, dumps_json
from tasks.pretrain.checkpoint import META, latest_checkpoint, load_checkpoint, load_model_state
from tasks.pretrain.model import ModelConfig, Transformer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
TOKENIZER_SIDE_FILES = ("tokenizer_config.json", "special_tokens_map.json")
# Fallback special-token guesses when the tokenizer directory has no tokenizer_config.json.
BOS_GUESSES = ("<｜begin▁of▁sentence｜>", "<s>", "<|bos|>", "<|begin_of_text|>")
EOS_GUESSES = ("<｜end▁of▁sentence｜>", "</s>", "<|endoftext|>", "<|eos|>", "<|end_of_text|>")


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint (file or sharded directory), or a training out_dir / checkpoints dir (its latest)."""
    path = Path(path)
    if path.is_file() or (path / META).is_file():
        return path
    for d in (path / "checkpoints", path):
        found = latest_checkpoint(d) if d.is_dir() else None
        if found is not None:
            return found
    raise FileNotFoundError(f"{path}: no checkpoint found")


def special_token_ids(tokenizer_path: Path, eos_token: str | None = None) -> dict[str, int | None]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    side = tokenizer_path.parent / "tokenizer_config.json"
    names: dict[str, Any] = json.loads(side.read_text(encoding="utf-8")) if side.is_file() else {}
    if eos_token is not None:
        if tok.token_to_id(eos_token) is None:
            raise ValueError(f"{tokenizer_path}: no token {eos_token!r} to use as eos")
        names["eos_token"] = eos_token
    out: dict[str, int | None] = {}
    for key, guesses in (("bos", BOS_GUESSES), ("eos", EOS_GUESSES), ("pad", ())):
        text = names.get(f"{key}_token")
        if isinstance(text, dict):  # AddedToken serialisation
            text = text.get("content")
        candidates = [text] if text else list(guesses)
        out[key] = next((tok.token_to_id(t) for t in candidates if t and tok.token_to_id(t) is not None), None)
    return out


def hf_config(mcfg: ModelConfig, rope: dict[str, float], max_positions: int, ids: dict[str, int | None],
              dtype: str) -> dict[str, Any]:
    theta, factor = float(rope["theta"]), float(rope["scaling"])
    rope_parameters: dict[str, Any] = {"rope_type": "default", "rope_theta": theta}
    if factor != 1.0:
        rope_parameters = {"rope_type": "linear", "factor": factor, "rope_theta": theta}
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": mcfg.vocab_size,
        "hidden_size": mcfg.dim,
        "intermediate_size": mcfg.intermediate_size,
        "num_hidden_layers": mcfg.n_layers,
        "num_attention_heads": mcfg.n_heads,
        "num_key_value_heads": mcfg.kv_heads,
        "head_dim": mcfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": max_positions,
        "rms_norm_eps": mcfg.norm_eps,
        "rope_parameters": rope_parameters,
        "rope_theta": theta,
        "rope_scaling": None if factor == 1.0 else {"rope_type": "linear", "type": "linear", "factor": factor},
        "tie_word_embeddings": mcfg.tie_embeddings,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "initializer_range": mcfg.init_std,
        "pretraining_tp": 1,
        "use_cache": True,
        "bos_token_id": ids["bos"],
        "eos_token_id": ids["eos"],
        "pad_token_id": ids["pad"],
        "dtype": dtype,
        "torch_dtype": dtype,
    }


def hf_state_dict(model_sd: dict[str, torch.Tensor], tied: bool, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in sorted(model_sd.items()):
        if name == "lm_head.weight":
            if tied:
                continue  # safetensors stores shared tensors once; HF re-ties from the config
            out[name] = tensor
        else:
            out[f"model.{name}"] = tensor
    return {k: v.detach().to(dtype=dtype, device="cpu").contiguous().clone() for k, v in out.items()}


def export_hf(checkpoint: str | os.PathLike, tokenizer_path: str | os.PathLike, out_dir: str | os.PathLike,
              *, dtype: str = "float32", eos_token: str | None = None) -> dict[str, Any]:
    """Write the HF directory; returns a summary (checkpoint, step, parameter count, files).

    `eos_token` replaces the tokenizer's end-of-sequence token in the configs (an instruction-tuned
    model ends its turn with `<|EOT|>`, as DeepSeek-Coder-Instruct's release declares), so that
    generation stops there."""
    from safetensors.torch import save_file

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    ckpt_path = resolve_checkpoint(checkpoint)
    state = load_checkpoint(ckpt_path)
    mcfg = ModelConfig.from_dict(state["model_config"])
    with torch.device("meta"):  # shapes only, no memory
        template = Transformer(mcfg).state_dict()
    model_sd = load_model_state(ckpt_path, template)
    trained = [int(p.get("seq_len", 0)) for p in state.get("progress", {}).get("phases", {}).values()]
    max_positions = max([mcfg.max_seq_len, *trained])
    tokenizer_path = Path(tokenizer_path)
    ids = special_token_ids(tokenizer_path, eos_token)
    tensors = hf_state_dict(model_sd, mcfg.tie_embeddings, DTYPES[dtype])
    with atomic_dir(out_dir) as tmp:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(dumps_json(hf_config(mcfg, state["rope"], max_positions, ids, dtype)), encoding="utf-8")
        gen = {"bos_token_id": ids["bos"], "eos_token_id": ids["eos"], "pad_token_id": ids["pad"],
               "do_sample": False, "max_new_tokens": 256}
        (tmp / "generation_config.json").write_text(dumps_json(gen), encoding="utf-8")
        shutil.copyfile(tokenizer_path, tmp / "tokenizer.json")
        copied = [tokenizer_path.parent / n for n in TOKENIZER_SIDE_FILES if (tokenizer_path.parent / n).is_file()]
        for side in copied:
            shutil.copyfile(side, tmp / side.name)
            if eos_token is not None:
                data = json.loads(side.read_text(encoding="utf-8"))
                if "eos_token" in data:
                    data["eos_token"] = eos_token
                    (tmp / side.name).write_text(dumps_json(data), encoding="utf-8")
        if not copied:
            cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_positions,
                   "clean_up_tokenization_spaces": False}
            if eos_token is not None:
                cfg["eos_token"] = eos_token
            (tmp / "tokenizer_config.json").write_text(dumps_json(cfg), encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir())
    return {"checkpoint": str(ckpt_path), "step": state["step"], "params": sum(t.numel() for t in tensors.values()),
            "dtype": dtype, "rope": state["rope"], "max_position_embeddings": max_positions, "files": files}


def load_hf(model_dir: str | os.PathLike) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """A HF Llama directory (as `export_hf` writes it) back as our ModelConfig and fp32 state dict.

    The RoPE base and linear factor it was exported with become the config's own, and
    `max_seq_len` its max_position_embeddings, so exporting the result again keeps both."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir}: no config.json (not a Hugging Face model directory)")
    cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if cfg.get("model_type") != "llama":
        raise ValueError(f"{model_dir}: model_type {cfg.get('model_type')!r}, expected 'llama'")
    rope = cfg.get("rope_parameters") or {}
    scaling = cfg.get("rope_scaling") or {}
    mcfg = ModelConfig(
        dim=cfg["hidden_size"], n_layers=cfg["num_hidden_layers"], n_heads=cfg["num_attention_heads"],
        intermediate_size=cfg["intermediate_size"], n_kv_heads=cfg.get("num_key_value_heads"),
        vocab_size=cfg["vocab_size"], norm_eps=cfg.get("rms_norm_eps", 1e-6),
        rope_theta=float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0))),
        rope_scaling=float(rope.get("factor", scaling.get("factor", 1.0))),
        max_seq_len=cfg.get("max_position_embeddings", 4096), tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        init_std=cfg.get("initializer_range", 0.02))
    if cfg.get("head_dim") not in (None, mcfg.head_dim):
        raise ValueError(f"{model_dir}: head_dim {cfg['head_dim']} != hidden_size / num_attention_heads")
    tensors = load_file(str(model_dir / "model.safetensors"))
    state = {(k[len("model."):] if k.startswith("model.") else k): v.to(torch.float32) for k, v in tensors.items()}
    if mcfg.tie_embeddings:
        state["lm_head.weight"] = state["embed_tokens.weight"]
    return mcfg, state


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export a pretrain checkpoint as a HF Llama directory")
    ap.add_argument("--checkpoint", default="models/pretrain", help="checkpoint file or training out_dir")
    ap.add_argument("--tokenizer", default="models/tokenizer/tokenizer.json")
    ap.add_argument("--out", default="models/export")
    ap.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    args = ap.parse_args(argv)
    print(json.dumps(export_hf(args.checkpoint, args.tokenizer, args.out, dtype=args.dtype), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
