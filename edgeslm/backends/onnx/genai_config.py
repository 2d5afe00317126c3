"""genai_config.json: what ONNX Runtime GenAI needs to generate from an ONNX bundle with no conversion.

The ONNX graph already follows GenAI's decoder contract (lower.py): `input_ids`, `attention_mask`,
`past_key_values.<i>.key|value` -> `logits`, `present.<i>.key|value`, caches (batch, kv_heads, seq, head_dim),
one com.microsoft GroupQueryAttention per layer. There is no `position_ids` input: rotary positions come from
the mask inside GroupQueryAttention and learned positions (gpt2, biogpt) from the past length, so GenAI is not
told about any. The tokenizer files GenAI reads (tokenizer.json, tokenizer_config.json) are the ones
`save_pretrained` writes into every bundle.

`past_present_share_buffer` (GenAI preallocates each cache to the context length and GroupQueryAttention
writes into it in place) gives the same greedy tokens for rope models, whose positions GroupQueryAttention
takes from the mask, but not for learned positions (gpt2, biogpt: the graph reads the cached length from the
past tensor's shape, which is then the context length) nor for rotary applied outside the fused op (also
offset by that shape). `shares_buffer` says which. Where it holds the mode is on, as GenAI's own builder sets
it for GroupQueryAttention graphs; bench/bench_genai.py times both modes against edgeslm's runner (BENCHMARKS.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeslm.backends.onnx.lower import io_names

GENAI_CONFIG = "genai_config.json"

# Our model_type -> GenAI's model type; each selects GenAI's decoder-only model, which feeds exactly the inputs
# the config names. GenAI's own "gpt2" type wants HF's old GPT-2 converter graph (it fails on ours: "Model input
# was not found") and it has no "biogpt": both run as GenAI's generic "decoder" (tests/test_genai_config.py).
GENAI_TYPES = {"llama": "llama", "mistral": "mistral", "qwen2": "qwen2", "phi3": "phi3", "phi": "phi",
               "gemma3_text": "gemma3_text", "gemma3": "gemma3_text"}
GENERIC_TYPE = "decoder"


def shares_buffer(spec) -> bool:
    """Whether the graph gives the same tokens when GenAI shares one preallocated past/present buffer."""
    from edgeslm.kernels.onnx_gqa import fused_rotary_unsupported

    return spec.position == "rope" and fused_rotary_unsupported(spec.rotary_dim // 2, spec.head_dim) is None


def genai_config(spec, generation: dict, model_file: str) -> dict:
    """The config for a bundle whose decoder is `model_file`, from the decoder spec and generation.json."""
    inputs, outputs = io_names(spec.layers)
    assert inputs[:2] == ["input_ids", "attention_mask"] and outputs[0] == "logits", (inputs, outputs)
    eos = generation["eos_token_ids"]
    pad = generation.get("pad_token_id")
    context = generation["max_positions"]
    bos = generation.get("bos_token_id")
    return {
        "model": {
            **({"bos_token_id": bos} if bos is not None else {}),  # GenAI's parser takes no null (Qwen has none)
            "context_length": context,
            "decoder": {
                "session_options": {"log_id": "onnxruntime-genai", "provider_options": []},
                "filename": model_file,
                "head_size": spec.head_dim,
                "hidden_size": spec.hidden,
                "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                           "past_key_names": "past_key_values.%d.key",
                           "past_value_names": "past_key_values.%d.value"},
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                            "present_value_names": "present.%d.value"},
                "num_attention_heads": spec.heads,
                "num_hidden_layers": spec.layers,
                "num_key_value_heads": spec.kv_heads,
            },
            "eos_token_id": eos[0] if len(eos) == 1 else eos,
            "pad_token_id": pad if pad is not None else eos[0],
            "type": GENAI_TYPES.get(spec.model_type, GENERIC_TYPE),
            "vocab_size": spec.vocab_size,
        },
        "search": {
            "diversity_penalty": 0.0, "do_sample": generation.get("decoding", "greedy") != "greedy",
            "early_stopping": True, "length_penalty": 1.0, "max_length": context, "min_length": 0,
            "no_repeat_ngram_size": 0, "num_beams": 1, "num_return_sequences": 1,
            "past_present_share_buffer": shares_buffer(spec), "repetition_penalty": 1.0, "temperature": 1.0,
            "top_k": 1, "top_p": 1.0,
        },
    }


def write_genai_config(folder: Path, spec, generation: dict, model_file: str) -> str:
    (Path(folder) / GENAI_CONFIG).write_text(json.dumps(genai_config(spec, generation, model_file), indent=2) + "\n")
    return GENAI_CONFIG
