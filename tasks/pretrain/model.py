"""A decoder-only transformer with exactly the Llama architecture (DeepSeek-Coder §3.3).

RMSNorm pre-norm blocks, SwiGLU MLP, rotary position embeddings (base and linear scaling factor are
runtime settings so a long-context phase can change them), grouped-query attention through
`scaled_dot_product_attention(is_causal=True)`, tied or untied embeddings. Module and parameter names
are those of `transformers.LlamaForCausalLM` (minus its `model.` prefix), so export is a rename and the
logits match to float precision.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from tasks.pretrain.config import model_config_path



@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network. `vocab_size` is filled in at run time from the tokenizer."""

    dim: int
    n_layers: int
    n_heads: int
    intermediate_size: int
    n_kv_heads: int | None = None  # None = n_heads (multi-head attention)
    vocab_size: int = 0
    norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: float = 1.0  # linear position interpolation factor (positions divided by it)
    max_seq_len: int = 4096  # longest context the model is meant for (HF max_position_embeddings)
    tie_embeddings: bool = False
    init_std: float = 0.02
    vocab_multiple: int = 1  # pad the embedding table to a multiple of this (GPU-friendly shapes)

    def __post_init__(self) -> None:
        kv = self.n_kv_heads or self.n_heads
        problems = []
        if min(self.dim, self.n_layers, self.n_heads, self.intermediate_size, kv) <= 0:
            problems.append("dim, n_layers, n_heads, n_kv_heads and intermediate_size must be > 0")
        elif self.dim % self.n_heads:
            problems.append(f"dim {self.dim} is not a multiple of n_heads {self.n_heads}")
        elif self.n_heads % kv:
            problems.append(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {kv}")
        elif (self.dim // self.n_heads) % 2:
            problems.append(f"head dim {self.dim // self.n_heads} must be even for rotary embeddings")
        if self.rope_theta <= 0 or self.rope_scaling <= 0:
            problems.append("rope_theta and rope_scaling must be > 0")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    def with_vocab(self, tokenizer_vocab: int) -> "ModelConfig":
        """Copy with the embedding size set from the tokenizer (rounded up to `vocab_multiple`)."""
        m = max(1, self.vocab_multiple)
        return ModelConfig(**{**asdict(self), "vocab_size": -(-tokenizer_vocab // m) * m})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"reference", "recipe"})
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**{k: v for k, v in data.items() if k in known})


def load_model_config(name_or_path: str) -> ModelConfig:
    """A config from `configs/<name>.yaml` or from a YAML file path (`recipe:` is the training recipe that
    tasks.pretrain.config applies, `reference:` holds notes only)."""
    path = model_config_path(name_or_path)
    return ModelConfig.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


class RMSNorm(nn.Module):
    """Computed in fp32 and cast back, as in Llama, so bf16 training stays stable."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rope_cos_sin(seq_len: int, head_dim: int, theta: float, scaling: float, device: torch.device,
                 dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (seq_len, head_dim) in the half-split layout of HF's `rotate_half`."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64, device=device).float() / head_dim))
    inv_freq = inv_freq / scaling  # linear interpolation: position p behaves like p / scaling
    freqs = torch.arange(seq_len, device=device, dtype=torch.int64).float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.dim, self.n_kv * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.dim, self.n_kv * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.n_kv != self.n_heads)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("vocab_size must be set (ModelConfig.with_vocab) before building the model")
        self.cfg = cfg
        # RoPE settings are plain attributes, not weights: a long-context phase changes them in place.
        self.rope_theta, self.rope_scaling = cfg.rope_theta, cfg.rope_scaling
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal(0, init_std); residual output projections scaled by 1/sqrt(2 * n_layers) (GPT-2)."""
        std = self.cfg.init_std
        for name, p in self.named_parameters():
            if p.ndim == 1:
                nn.init.ones_(p)
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.cfg.n_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    def set_rope(self, theta: float, scaling: float) -> None:
        self.rope_theta, self.rope_scaling = float(theta), float(scaling)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (b, t, vocab) or, with `targets`, the mean next-token cross-entropy."""
        t = tokens.shape[1]
        x = self.embed_tokens(tokens)
        cos, sin = rope_cos_sin(t, self.cfg.head_dim, self.rope_theta, self.rope_scaling, tokens.device, x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin)
        logits = self.lm_head(self.norm(x))
        if targets is None:
            return logits
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))


def count_params(model: nn.Module) -> dict[str, int]:
    """Total (tied weights once) and without the input embedding table (PaLM's N for FLOPs)."""
    cfg: ModelConfig = model.cfg  # type: ignore[assignment]
    total = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    embedding = 0 if cfg.tie_embeddings else cfg.vocab_size * cfg.dim
    return {"params": total, "params_without_embedding": total - embedding}


def flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    """Training FLOPs per token, PaLM appendix B: 6N + 12*L*H*Q*T.

    N counts every matmul weight, including the output layer (with tied embeddings the shared matrix
    is counted once, as the output layer) but not the embedding lookup; the second term is attention
    scores and values (H heads of size Q over context T), counted without the causal discount.
    """
    kv = cfg.kv_heads * cfg.head_dim
    per_layer = cfg.dim * (cfg.dim + 2 * kv + cfg.dim) + 3 * cfg.dim * cfg.intermediate_size + 2 * cfg.dim
    n = cfg.n_layers * per_layer + cfg.dim + cfg.vocab_size * cfg.dim
    return 6.0 * n + 12.0 * cfg.n_layers * cfg.n_heads * cfg.head_dim * seq_len
