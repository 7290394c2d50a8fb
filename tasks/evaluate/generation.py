"""Batched generation from a Hugging Face causal LM: left padding, KV cache, stop sequences.

`transformers.generate` does the decoding loop (KV cache, greedy or nucleus sampling); this module
adds what evaluation needs around it: prompts sorted by length so batches carry little padding,
left truncation to the context window, a per-row stopping criterion on stop strings (rows that are
done stop costing compute while the rest of the batch finishes), seeds per batch, and the results
back in input order.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

from tasks.common.hashing import stable_hash64
from tasks.evaluate.benchmarks import BOS, EOS


@dataclass(frozen=True)
class GenSettings:
    batch_size: int = 8
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 0.95
    seed: int = 1234
    max_seq_len: int | None = None


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, dtype)


def load_model(model_dir: str | os.PathLike, device: str = "cpu", dtype: str = "auto") -> tuple[Any, Any]:
    """Model and tokenizer from an HF directory (safetensors + config.json + tokenizer.json)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    dev = resolve_device(device)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=resolve_dtype(dtype, dev))
    model.to(dev).eval()
    _complete_special_tokens(tokenizer, model.config)
    return model, tokenizer


def _complete_special_tokens(tokenizer: Any, config: Any) -> None:
    """A bare tokenizer.json names no eos/bos/pad: take them from the model config or DeepSeek's names."""
    vocab = tokenizer.get_vocab()
    id_to_tok = {v: k for k, v in vocab.items()}
    for attr, cfg_attr, name in (("eos_token", "eos_token_id", EOS), ("bos_token", "bos_token_id", BOS)):
        if getattr(tokenizer, attr) is None:
            token_id = getattr(config, cfg_attr, None)
            token = id_to_tok.get(token_id) if isinstance(token_id, int) else None
            if token is None and name in vocab:
                token = name
            if token is not None:
                setattr(tokenizer, attr, token)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token


class StopOnStrings(StoppingCriteria):
    """Per-row stop once the generated text contains a stop string (checked on a short token tail)."""

    def __init__(self, tokenizer: Any, prompt_width: int, stops: Sequence[str]):
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stops = [s for s in stops if s]
        # each token adds >= 1 byte, so a stop string of n bytes lies within the last n + 1 tokens
        self.window = max((len(s.encode("utf-8")) for s in self.stops), default=0) + 2

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        generated = input_ids.shape[1] - self.prompt_width
        if not self.stops or generated <= 0:
            return done
        tails = input_ids[:, max(self.prompt_width, input_ids.shape[1] - self.window):].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        for i, text in enumerate(texts):
            if any(s in text for s in self.stops):
                done[i] = True
        return done


class HFGenerator:
    """Generates continuations of text prompts with an HF model; results are raw decoded text."""

    def __init__(self, model: Any, tokenizer: Any, settings: GenSettings):
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = next(model.parameters()).device
        max_pos = getattr(model.config, "max_position_embeddings", None) or 2048
        self.max_seq_len = min(settings.max_seq_len or max_pos, max_pos)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.eos_id = tokenizer.eos_token_id

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def fits(self, text: str, max_new_tokens: int | None = None) -> bool:
        """Whether `text` leaves room for the generation in the context window (DeepSeek's MBPP rule)."""
        budget = self.max_seq_len - (max_new_tokens or self.settings.max_new_tokens)
        return len(self.encode(text)) < budget

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], stops: Sequence[str] = (), max_new_tokens: int | None = None,
                 tag: str = "") -> list[str]:
        s = self.settings
        new_tokens = max(1, min(max_new_tokens or s.max_new_tokens, self.max_seq_len - 1))
        max_prompt = self.max_seq_len - new_tokens
        encoded = [self.encode(p)[-max_prompt:] for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (-len(encoded[i]), i))
        outputs: list[str] = [""] * len(prompts)
        for b, start in enumerate(range(0, len(order), s.batch_size)):
            rows = order[start:start + s.batch_size]
            width = max(len(encoded[i]) for i in rows)
            ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, i in enumerate(rows):
                seq = encoded[i]
                ids[r, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
                mask[r, width - len(seq):] = 1
            kwargs: dict[str, Any] = dict(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device), max_new_tokens=new_tokens,
                pad_token_id=self.pad_id, eos_token_id=self.eos_id, use_cache=True,
                stopping_criteria=StoppingCriteriaList([StopOnStrings(self.tokenizer, width, stops)]))
            if s.temperature > 0:
                torch.manual_seed(stable_hash64(s.seed, tag, b) & 0x7FFF_FFFF_FFFF_FFFF)
                kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=0)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            out = self.model.generate(**kwargs)
            for r, i in enumerate(rows):
                outputs[i] = self.tokenizer.decode(out[r, width:].tolist(), skip_special_tokens=True)
        return outputs


def model_summary(model: Any, model_dir: str | os.PathLike) -> dict[str, Any]:
    return {"dir": str(Path(model_dir)), "n_params": int(sum(p.numel() for p in model.parameters())),
            "device": str(next(model.parameters()).device), "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
            "max_position_embeddings": int(getattr(model.config, "max_position_embeddings", 0) or 0)}
