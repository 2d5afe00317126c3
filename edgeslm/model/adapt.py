"""The adapt stage: a Hugging Face causal LM becomes an EdgeDecoder (a new module; the source is not edited)."""

from __future__ import annotations

import torch

from edgeslm.archs import ARCHS
from edgeslm.errors import UnsupportedError
from edgeslm.model.decoder import EdgeDecoder
from edgeslm.model.spec import DecoderSpec


def rotary_tables(hf_model, spec: DecoderSpec) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """cos/sin tables (max_positions, rotary_dim / 2) from the model's own rotary module.

    Asking the HF module (rather than recomputing inv_freq here) keeps every rope variant exact:
    llama3 / linear / yarn / longrope scaling and the attention_scaling factor they carry.
    """
    if spec.position != "rope":
        return {}
    return tables_from_rotary(rotary_module(hf_model, spec), spec)


def rotary_module(hf_model, spec: DecoderSpec):
    rotary = next((m for n, m in hf_model.named_modules() if n.endswith("rotary_emb")), None)
    if rotary is None:
        raise UnsupportedError(f"no rotary embedding module found in the {spec.model_type} model",
                               hint="This architecture entry declares rope but the model has no `rotary_emb`.")
    return rotary


def tables_from_rotary(rotary, spec: DecoderSpec) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    positions = torch.arange(spec.max_positions)[None]
    probe = torch.zeros(1, dtype=torch.float32)
    tables = {}
    for name in sorted(set(spec.rope_tables)) or ["global"]:
        with torch.no_grad():
            args = (probe, positions) + ((name,) if spec.rope_tables else ())
            cos, sin = rotary(*args)
        half = cos.shape[-1] // 2
        tables[name] = (cos[0, :, :half].float(), sin[0, :, :half].float())
    return tables


def adapt(hf_model, max_positions: int) -> EdgeDecoder:
    config = hf_model.config
    arch = ARCHS.get(config.model_type)
    spec = arch.spec(config, max_positions)
    state = {k: v.detach().float() for k, v in hf_model.state_dict().items()}
    weights = arch.weights(state, config)
    decoder = EdgeDecoder(spec, weights, rotary_tables(hf_model, spec))
    return decoder.eval()
