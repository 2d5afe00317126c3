"""gemma3_text: MedGemma (text tower). Sandwich norms, q/k norms, (1 + w) RMSNorm weights, scaled embedding,
interleaved sliding-window and global layers with their own rotary tables."""

import math

from edgeslm.archs.base import LLAMA_LAYER_NAMES, Arch, Sizing, llama_like_spec, llama_like_weights

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


def _text_tower(sd):
    """Gemma3ForConditionalGeneration keeps the decoder under model.language_model: map it to model.*."""
    prefix = "model.language_model."
    out = {"model." + k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    if "lm_head.weight" in sd:
        out["lm_head.weight"] = sd["lm_head.weight"]
    return out


def _tiny_text():
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=16, max_position_embeddings=256, sliding_window=8,
        layer_types=["sliding_attention", "full_attention"], query_pre_attn_scalar=16)


def _tiny_multimodal():
    from transformers import Gemma3Config, SiglipVisionConfig

    vision = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                image_size=28, patch_size=14)
    return Gemma3Config(text_config=_tiny_text(), vision_config=vision, mm_tokens_per_image=4,
                        image_token_index=127, boi_token_index=125, eoi_token_index=126)


SIZING = Sizing("gated", qk_norm=True, sandwich_norm=True)

ARCH = Arch(
    model_type="gemma3_text",
    family="Gemma 3 text (sandwich norms, q/k norms, 5:1 local/global attention)",
    spec=_spec,
    weights=_weights,
    tiny_config=_tiny_text,
    sizing=SIZING,
)

# MedGemma ships the multimodal Gemma 3 (model_type "gemma3"): the text tower is what a phone bundle holds;
# the vision encoder and projector are left out (recorded in the manifest's arch entry).
MULTIMODAL = Arch(
    model_type="gemma3",
    family="Gemma 3 multimodal (MedGemma): the text decoder is exported, the vision tower is not",
    spec=lambda config, max_positions: _spec(config.text_config, max_positions),
    weights=lambda sd, config: _weights(_text_tower(sd), config.text_config),
    tiny_config=_tiny_multimodal,
    sizing=SIZING,
)
