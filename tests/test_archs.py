"""Every registered architecture: a tiny config exists, and the adapted EdgeDecoder is the same function as
the Hugging Face model (prefill and token-by-token decode through the KV cache)."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from conftest import ARCH_NAMES
from edgeslm.archs import ARCHS
from edgeslm.errors import InternalError, UserError
from edgeslm.model.adapt import adapt
from edgeslm.registry import Registry


def test_every_architecture_has_a_tiny_config():
    assert len(ARCH_NAMES) >= 8
    for name, arch in ARCHS.items():
        config = arch.tiny_config()
        assert config.model_type == name, f"{name}'s tiny config builds a {config.model_type}"
        assert config.get_text_config().num_hidden_layers == 2


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_adapted_decoder_matches_hf(arch):
    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(ARCHS.get(arch).tiny_config()).eval()
    decoder = adapt(hf, max_positions=64)
    ids = torch.randint(3, hf.config.get_text_config().vocab_size - 4, (1, 24))  # no image special tokens  # 24 > the tiny sliding windows of 8
    with torch.no_grad():
        want = hf(ids).logits[0]
        full = decoder(ids, torch.ones_like(ids), *decoder.empty_cache())[0][0]
        out = decoder(ids[:, :10], torch.ones(1, 10, dtype=torch.long), *decoder.empty_cache())
        cache, steps = out[1:], [out[0][0]]
        for t in range(10, 24):
            out = decoder(ids[:, t:t + 1], torch.ones(1, t + 1, dtype=torch.long), *cache)
            cache = out[1:]
            steps.append(out[0][0])
    assert (full - want).abs().max() < 1e-4
    assert (torch.cat(steps) - want).abs().max() < 1e-4
    assert cache[0].shape[2] == 24  # the cache grew by one per decoded token


def test_adapt_does_not_edit_the_source_model():
    hf = AutoModelForCausalLM.from_config(ARCHS.get("llama").tiny_config()).eval()
    before = {k: v.clone() for k, v in hf.state_dict().items()}
    decoder = adapt(hf, 32)
    decoder.layers[0].q_proj.weight_t.data.zero_()
    assert all(torch.equal(before[k], v) for k, v in hf.state_dict().items())


def test_registry_rejects_duplicates_and_suggests_names():
    reg: Registry[int] = Registry("thing", "edgeslm list things")
    reg.add("llama", 1)
    with pytest.raises(InternalError):
        reg.add("llama", 2)
    with pytest.raises(UserError) as err:
        reg.get("lama")
    assert "Did you mean 'llama'" in err.value.hint
