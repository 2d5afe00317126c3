"""phi3: MedMobile (Phi-3-mini). Fused qkv_proj and gate_up_proj are split into the canonical names."""

from edgeslm.archs.base import LLAMA_LAYER_NAMES, Arch, head_dim_of, llama_like_spec, llama_like_weights, tiny_llama_like

_NAMES = {**LLAMA_LAYER_NAMES, "self_attn.qkv_proj": "qkv_proj", "mlp.gate_up_proj": "gate_up_proj"}


def _weights(sd, config):
    w = llama_like_weights(sd, config, _NAMES)
    q_size = config.num_attention_heads * head_dim_of(config)
    kv_size = config.num_key_value_heads * head_dim_of(config)
    for i in range(config.num_hidden_layers):
        q, k, v = w.pop(f"layers.{i}.qkv_proj.weight").split([q_size, kv_size, kv_size], dim=0)
        w[f"layers.{i}.q_proj.weight"], w[f"layers.{i}.k_proj.weight"], w[f"layers.{i}.v_proj.weight"] = q, k, v
        # Phi3MLP: gate_up_proj(x).chunk(2) gives (gate, up), gate first.
        gate, up = w.pop(f"layers.{i}.gate_up_proj.weight").chunk(2, dim=0)
        w[f"layers.{i}.gate_proj.weight"], w[f"layers.{i}.up_proj.weight"] = gate, up
    return w


ARCH = Arch(
    model_type="phi3",
    family="Phi-3 (fused qkv and gate_up projections)",
    spec=lambda config, max_positions: llama_like_spec(config, max_positions),
    weights=_weights,
    tiny_config=lambda: tiny_llama_like("Phi3Config", pad_token_id=0),
)
