"""Size and RAM estimates from configs alone, and the refusal when a model cannot fit."""

from __future__ import annotations

import pytest
from transformers import (BioGptConfig, GemmaConfig, GPT2Config, LlamaConfig, MambaConfig, MistralConfig,
                          PhiConfig, Phi3Config, Qwen2Config)

from edgeslm.catalog import CatalogEntry, get_entry
from edgeslm.errors import UnsupportedError, UserError
from edgeslm.fit import (MIB, RUNTIME_OVERHEAD_BYTES, ModelFacts, check_fit, estimate, require_fit)
from edgeslm.quant import get_scheme
from edgeslm.targets import get_target

TINY = dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)


def tiny_llama(tied: bool = False) -> LlamaConfig:
    return LlamaConfig(**TINY, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=tied)


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_llama_facts_match_the_meta_device_count(tied):
    import torch
    from transformers import AutoModelForCausalLM

    config = tiny_llama(tied)
    facts = ModelFacts.from_hf_config(config)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert facts.total_params == sum(p.numel() for p in model.parameters())
    h, kv = 64, 2 * 16
    assert facts.embedding_params == 128 * h
    assert facts.lm_head_params == (0 if tied else 128 * h)
    assert facts.linear_params == 2 * (h * h + 2 * h * kv + h * h + 3 * h * 96)
    assert facts.other_params == 2 * 2 * h + h  # two RMSNorms per layer + the final one
    assert (facts.kv_heads, facts.head_dim, facts.tie_word_embeddings) == (2, 16, tied)


def test_exported_params_give_a_tied_head_its_own_copy():
    """The export unties the head (EdgeDecoder quantizes it on its own): what it holds, and what the host forecast
    must count (MedGemma-4B: 3.88 B in the checkpoint, 4.55 B exported)."""
    tied, untied = ModelFacts.from_hf_config(tiny_llama(True)), ModelFacts.from_hf_config(tiny_llama(False))
    assert tied.exported_params == tied.total_params + 128 * 64 == untied.exported_params
    assert untied.exported_params == untied.total_params


def _entry_for(model_type: str, **shape) -> CatalogEntry:
    base = dict(id="tiny", hf_id="me/tiny", model_type=model_type, params=1, license="mit", gated=False,
                commercial_use=True, tasks=("chat",), layers=2, hidden=64, heads=4, kv_heads=4, head_dim=16,
                intermediate=96, vocab=128, max_context=256, tie_word_embeddings=False, supported=True,
                status_note="")
    base.update(shape)
    return CatalogEntry(**base)


FAMILIES = {
    "llama": (tiny_llama(), {"kv_heads": 2}),
    "mistral": (MistralConfig(**TINY, num_key_value_heads=2, max_position_embeddings=256), {"kv_heads": 2}),
    "qwen2": (Qwen2Config(**TINY, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True),
              {"kv_heads": 2, "tie_word_embeddings": True}),
    "gemma": (GemmaConfig(**TINY, num_key_value_heads=1, head_dim=32, max_position_embeddings=256),
              {"kv_heads": 1, "head_dim": 32, "tie_word_embeddings": True}),
    "phi3": (Phi3Config(**TINY, num_key_value_heads=4, max_position_embeddings=256, pad_token_id=0), {}),
    "phi": (PhiConfig(**TINY, max_position_embeddings=256), {}),
    "gpt2": (GPT2Config(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_inner=96, n_positions=256,
                        bos_token_id=0, eos_token_id=0), {"tie_word_embeddings": True}),
    "biogpt": (BioGptConfig(**TINY, max_position_embeddings=256), {"tie_word_embeddings": True}),
    "mamba": (MambaConfig(vocab_size=128, hidden_size=64, num_hidden_layers=2, intermediate_size=128),
              {"heads": 0, "kv_heads": 0, "head_dim": 0, "intermediate": 128, "tie_word_embeddings": True}),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_analytic_catalog_count_equals_the_meta_device_count(family):
    config, shape = FAMILIES[family]
    exact = ModelFacts.from_hf_config(config)
    analytic = ModelFacts.from_catalog(_entry_for(family, **shape))
    for field in ("embedding_params", "linear_params", "lm_head_params", "other_params", "linear_out_channels"):
        assert getattr(analytic, field) == getattr(exact, field), field


def test_unknown_family_cannot_be_sized_from_the_catalog():
    with pytest.raises(UnsupportedError, match="cannot size model_type 'falcon'"):
        ModelFacts.from_catalog(_entry_for("falcon"))


def test_kv_cache_and_bytes_per_weight():
    facts = ModelFacts.from_hf_config(tiny_llama(tied=False))
    est = {name: estimate(facts, get_scheme(name), max_seq_len=128) for name in ("fp32", "fp16", "int8", "int4")}
    assert est["fp32"].kv_cache_bytes == 2 * 2 * 2 * 16 * 128 * 4
    n_lin, n_tab, n_other = facts.linear_params, 128 * 64, facts.other_params
    assert est["fp32"].weights_bytes == 4 * (n_lin + 2 * n_tab + n_other)
    assert est["fp16"].weights_bytes == 2 * (n_lin + 2 * n_tab) + 4 * n_other
    # int8 and int4 are both blocks of 32 along the input dim with one fp32 scale per block (edgeslm/quant.py)
    assert est["int8"].weights_bytes == n_lin + 4 * (n_lin // 32) + 2 * (n_tab + 4 * n_tab // 32) + 4 * n_other
    assert est["int4"].weights_bytes == n_lin // 2 + 4 * (n_lin // 32) + 2 * (n_tab // 2 + 4 * n_tab // 32) + 4 * n_other
    sizes = [est[name].weights_bytes for name in ("fp32", "fp16", "int8", "int4")]
    assert sizes == sorted(sizes, reverse=True)
    for e in est.values():
        assert e.runtime_bytes == e.weights_bytes + e.kv_cache_bytes + e.activation_bytes + RUNTIME_OVERHEAD_BYTES
        assert e.bundle_bytes > e.weights_bytes


def test_a_tied_head_is_paid_for_only_when_untied_for_export():
    facts = ModelFacts.from_hf_config(tiny_llama(tied=True))
    scheme = get_scheme("fp32")
    untied = estimate(facts, scheme, 64, untie_lm_head=True)
    shared = estimate(facts, scheme, 64, untie_lm_head=False)
    assert untied.weights_bytes - shared.weights_bytes == 4 * 128 * 64


def test_max_seq_len_beyond_the_context_is_a_user_error():
    with pytest.raises(UserError, match="longer than the model's context of 256"):
        estimate(ModelFacts.from_hf_config(tiny_llama()), get_scheme("int4"), max_seq_len=1024)


def test_biomistral_fp32_is_refused_for_android_with_the_numbers():
    facts = get_entry("biomistral-7b").facts()
    est = estimate(facts, get_scheme("fp32"), max_seq_len=2048)
    android = get_target("android")
    assert not check_fit(est, android).fits
    with pytest.raises(UnsupportedError) as err:
        require_fit(est, android, "biomistral-7b", "fp32")
    message = err.value.message
    needed = est.runtime_bytes / MIB
    assert f"{needed:,.0f} MB" in message
    assert f"{android.available_mb:,} MB" in message
    assert f"KV cache {est.kv_cache_bytes / MIB:,.0f} MB at 2048 tokens" in message
    assert "--quant int4" in err.value.hint and "--max-seq-len 1024" in err.value.hint
    assert err.value.exit_code == 3 and err.value.details["needed_mb"] > err.value.details["available_mb"]


def test_smollm2_int4_fits_android():
    facts = get_entry("smollm2-135m").facts()
    est = estimate(facts, get_scheme("int4"), max_seq_len=2048)
    verdict = require_fit(est, get_target("android"), "smollm2-135m", "int4")
    assert verdict.fits and verdict.margin_mb > 3000
    assert verdict.available_mb == 4096 - 512
    # about 0.63 bytes per weight, plus an untied int4 head: well under 150 MB of weights
    assert est.weights_bytes < 150 * MIB


def test_every_catalog_family_is_sized_by_its_arch_entry():
    """fit.py keeps no model_type list of its own: every catalog model_type has a Sizing in edgeslm/archs."""
    from edgeslm.archs import ARCHS, SIZING_ONLY, sizing_for
    from edgeslm.catalog import CATALOG

    for _, entry in CATALOG.items():
        assert sizing_for(entry.model_type) is not None, entry.model_type
    assert not set(SIZING_ONLY) & set(ARCHS.names())  # an exported family declares its sizing in its entry
    assert sizing_for("qwen2").qkv_bias and sizing_for("gemma3").qk_norm and sizing_for("gemma3_text").sandwich_norm
    assert sizing_for("biogpt").learned_positions == 2 and sizing_for("phi").lm_head_bias


def test_the_arch_registry_imports_without_torch():
    """`edgeslm plan` asks the registry for sizes: importing it must not pull torch or transformers in."""
    import subprocess
    import sys

    code = "import sys, edgeslm.archs, edgeslm.fit; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
