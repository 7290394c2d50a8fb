"""The model: shapes, causal masking, GQA/tying, RoPE settings, FLOP count, and that it can learn."""
from __future__ import annotations

import pytest
import torch

from tasks.pretrain.model import ModelConfig, Transformer, count_params, flops_per_token, load_model_config

VOCAB = 50


def tiny(**kw) -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelConfig(**{**load_model_config("tiny").to_dict(), **kw}).with_vocab(VOCAB))


def test_pretrain_shapes_and_loss() -> None:
    model = tiny()
    x = torch.randint(0, VOCAB, (3, 11))
    logits = model(x)
    assert logits.shape == (3, 11, VOCAB)
    loss = model(x, x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    # near-uniform predictions at init: loss close to ln(vocab)
    assert abs(loss.item() - torch.log(torch.tensor(float(VOCAB))).item()) < 0.5
    attn = model.layers[0].self_attn
    assert attn.k_proj.weight.shape == (2 * 8, 32) and attn.q_proj.weight.shape == (4 * 8, 32)  # GQA: 2 kv heads


def test_pretrain_causal_mask() -> None:
    model = tiny().eval()
    x = torch.randint(0, VOCAB, (2, 12))
    y = x.clone()
    y[:, 7] = (y[:, 7] + 1) % VOCAB
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-3)


def test_pretrain_rope_settings_change_outputs() -> None:
    model = tiny().eval()
    x = torch.randint(0, VOCAB, (1, 16))
    with torch.no_grad():
        base = model(x)
        model.set_rope(100000.0, 4.0)
        longer = model(x)
    assert base.shape == longer.shape and not torch.allclose(base, longer, atol=1e-4)
    # position 0 has angle 0 whatever the base: its logits do not depend on RoPE settings
    assert torch.allclose(base[:, 0], longer[:, 0], atol=1e-6)


def test_pretrain_tied_embeddings_and_param_count() -> None:
    untied, tied = tiny(tie_embeddings=False), tiny(tie_embeddings=True)
    assert tied.lm_head.weight is tied.embed_tokens.weight
    cu, ct = count_params(untied), count_params(tied)
    assert cu["params"] - ct["params"] == VOCAB * 32
    assert cu["params_without_embedding"] == ct["params_without_embedding"]
    cfg = untied.cfg
    attention = 12 * cfg.n_layers * cfg.n_heads * cfg.head_dim * 128
    assert flops_per_token(cfg, 128) == 6 * cu["params_without_embedding"] + attention


def test_pretrain_config_validation_and_vocab_padding() -> None:
    with pytest.raises(ValueError, match="n_kv_heads"):
        ModelConfig(dim=32, n_layers=1, n_heads=4, n_kv_heads=3, intermediate_size=8)
    with pytest.raises(FileNotFoundError, match="built-in"):
        load_model_config("no-such-model")
    assert load_model_config("small").with_vocab(1000).vocab_size == 1024  # vocab_multiple 64
    assert load_model_config("deepseek-coder-1.3b").n_layers == 24
    big = load_model_config("deepseek-coder-33b")
    assert (big.n_layers, big.dim, big.n_heads, big.kv_heads, big.intermediate_size) == (62, 7168, 56, 8, 19200)


def test_pretrain_overfits_fixed_batch() -> None:
    model = tiny()
    torch.manual_seed(1)
    x = torch.randint(0, VOCAB, (2, 16))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.0)
    first = None
    for _ in range(60):
        loss = model(x[:, :-1], x[:, 1:])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first, (first, loss.item())
