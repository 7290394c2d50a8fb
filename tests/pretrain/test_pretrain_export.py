"""Export parity: transformers' LlamaForCausalLM loads the directory and gives our logits."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tasks.pretrain.checkpoint import save_checkpoint
from tasks.pretrain.export import export_hf
from tasks.pretrain.model import ModelConfig, Transformer, load_model_config

transformers = pytest.importorskip("transformers")


def _checkpoint(out: Path, tie: bool, theta: float, scaling: float) -> Transformer:
    torch.manual_seed(3)
    cfg = ModelConfig(**{**load_model_config("tiny").to_dict(), "tie_embeddings": tie}).with_vocab(64)
    model = Transformer(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:  # make norm gains non-trivial so a mis-mapped weight shows
                p.uniform_(0.5, 1.5)
    model.set_rope(theta, scaling)
    save_checkpoint(out / "checkpoints", 5, {
        "model": model.state_dict(), "model_config": cfg.to_dict(), "rope": {"theta": theta, "scaling": scaling},
        "progress": {"phases": {"main": {"seq_len": 96}}}}, keep=1)
    return model.eval()


@pytest.mark.parametrize("tie, theta, scaling", [(False, 10000.0, 1.0), (True, 100000.0, 4.0)])
def test_pretrain_export_logits_match_transformers(tmp_path: Path, tokenizer_path: Path, tie: bool, theta: float,
                                                   scaling: float) -> None:
    ours = _checkpoint(tmp_path / "run", tie, theta, scaling)
    summary = export_hf(tmp_path / "run", tokenizer_path, tmp_path / "hf")
    files = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert files <= set(summary["files"]) and summary["step"] == 5

    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "hf").eval()
    assert hf.config.max_position_embeddings == 96 and hf.config.tie_word_embeddings == tie
    rope = getattr(hf.config, "rope_parameters", None) or hf.config.rope_scaling or {}
    assert rope.get("rope_type", "default") == ("linear" if scaling != 1.0 else "default")
    x = torch.randint(0, 64, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, got = ours(x), hf(x).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)

    gen = json.loads((tmp_path / "hf" / "generation_config.json").read_text())
    assert (gen["bos_token_id"], gen["eos_token_id"]) == (0, 1)
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tok.convert_tokens_to_ids("w5") == 5
