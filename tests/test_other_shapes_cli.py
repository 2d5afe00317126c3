"""Tiny models of other sizes and head ratios than the registry's tiny configs, exported through the CLI
alone (a separate process, as a user would), at int4: catches shape assumptions in the adapt/lower stages."""

import json
import subprocess
import sys

import pytest
from transformers import (BioGptConfig, Gemma3TextConfig, GPT2Config, LlamaConfig, MistralConfig, PhiConfig,
                          Phi3Config, Qwen2Config)

from conftest import TRAIN_STEPS
from tiny import save_tiny_model

SHAPES = {
    "llama": lambda: LlamaConfig(vocab_size=96, hidden_size=96, intermediate_size=160, num_hidden_layers=3,
                                 num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=128),
    "mistral": lambda: MistralConfig(vocab_size=100, hidden_size=96, intermediate_size=192, num_hidden_layers=1,
                                     num_attention_heads=3, num_key_value_heads=3, head_dim=32, sliding_window=5,
                                     max_position_embeddings=128),
    "qwen2": lambda: Qwen2Config(vocab_size=128, hidden_size=128, intermediate_size=96, num_hidden_layers=2,
                                 num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=128),
    "phi3": lambda: Phi3Config(vocab_size=128, hidden_size=128, intermediate_size=256, num_hidden_layers=3,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                               pad_token_id=0),
    "gemma3_text": lambda: Gemma3TextConfig(vocab_size=112, hidden_size=96, intermediate_size=64, num_hidden_layers=4,
                                            num_attention_heads=2, num_key_value_heads=1, head_dim=48,
                                            sliding_window=6, max_position_embeddings=128, query_pre_attn_scalar=48,
                                            layer_types=["sliding_attention"] * 3 + ["full_attention"]),
    "gpt2": lambda: GPT2Config(vocab_size=120, n_embd=96, n_layer=3, n_head=3, n_positions=128),
    "biogpt": lambda: BioGptConfig(vocab_size=128, hidden_size=128, intermediate_size=64, num_hidden_layers=1,
                                   num_attention_heads=8, max_position_embeddings=128),
    "phi": lambda: PhiConfig(vocab_size=128, hidden_size=160, intermediate_size=96, num_hidden_layers=2,
                             num_attention_heads=5, max_position_embeddings=128, partial_rotary_factor=0.5),
}


@pytest.mark.parametrize("arch", sorted(SHAPES))
def test_cli_exports_other_shapes(arch, tmp_path):
    folder = save_tiny_model(SHAPES[arch](), tmp_path / "model", seed=3, train_steps=TRAIN_STEPS)
    out = tmp_path / "bundle"
    proc = subprocess.run([sys.executable, "-m", "edgeslm", "--json", "export", "--model", str(folder),
                           "--target", "linux", "--quant", "int4", "--max-seq-len", "64", "-o", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    payload = json.loads(proc.stdout)
    assert payload["ok"] and payload["verified"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kernels"]["fused_attention"] == manifest["arch"]["spec"]["layers"]
