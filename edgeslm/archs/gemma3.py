"""gemma3_text: MedGemma (text tower). Sandwich norms, q/k norms, (1 + w) RMSNorm weights, scaled embedding,
interleaved sliding-window and global layers with their own rotary tables."""

import math

from transformers import Gemma3TextConfig

from edgeslm.archs.base import LLAMA_LAYER_NAMES, Arch, llama_like_spec, llama_like_weights

_NAMES = {**LLAMA_LAYER_NAMES, "post_attention_layernorm": "post_attn_norm",
          "pre_feedforward_layernorm": "mlp_norm", "post_feedforward_layernorm": "post_mlp_norm"}


def _spec(config, max_positions):
    return llama_like_spec(
        config, max_positions, activation="gelu_tanh", qk_norm=True, sandwich_norm=True,
        attn_scale=config.query_pre_attn_scalar ** -0.5, embed_scale=math.sqrt(config.hidden_size),
        rope_tables=tuple(config.layer_types),
    )


def _weights(sd, config):
    w = llama_like_weights(sd, config, _NAMES)
    # Gemma's RMSNorm multiplies by (1 + weight): fold the 1 in so the canonical norm is plain RMSNorm.
    for key in list(w):
        if key.endswith("norm.weight"):
            w[key] = 1.0 + w[key].float()
    return w


ARCH = Arch(
    model_type="gemma3_text",
    family="Gemma 3 text (sandwich norms, q/k norms, 5:1 local/global attention)",
    spec=_spec,
    weights=_weights,
    tiny_config=lambda: Gemma3TextConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=256, sliding_window=8,
        layer_types=["sliding_attention", "full_attention"], query_pre_attn_scalar=16),
)
