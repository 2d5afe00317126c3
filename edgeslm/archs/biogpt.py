"""biogpt: BioGPT and BioGPT-Large. Scaled embedding, learned positions offset by 2, pre-LayerNorm."""

import math

from edgeslm.archs.base import Arch, Sizing, activation, decoder_weights
from edgeslm.model.spec import DecoderSpec

_NAMES = {
    "self_attn.q_proj": "q_proj", "self_attn.k_proj": "k_proj", "self_attn.v_proj": "v_proj",
    "self_attn.out_proj": "o_proj", "fc1": "up_proj", "fc2": "down_proj",
    "self_attn_layer_norm": "attn_norm", "final_layer_norm": "mlp_norm",
}


def _spec(config, max_positions):
    return DecoderSpec(
        model_type="biogpt", vocab_size=config.vocab_size, hidden=config.hidden_size,
        layers=config.num_hidden_layers, heads=config.num_attention_heads, kv_heads=config.num_attention_heads,
        head_dim=config.hidden_size // config.num_attention_heads, intermediate=config.intermediate_size,
        # BioGPT builds nn.LayerNorm(embed_dim) with the default eps and ignores config.layer_norm_eps.
        norm="layer", norm_eps=1e-5, mlp="plain", activation=activation(config),
        position="learned", learned_position_offset=2,
        max_positions=min(max_positions, config.max_position_embeddings),
        embed_scale=math.sqrt(config.hidden_size) if config.scale_embedding else 1.0,
        qkv_bias=True, o_bias=True, mlp_bias=True, norm_bias=True,
    )


def _weights(sd, config):
    w = decoder_weights(sd, "biogpt.layers", _NAMES, "biogpt.embed_tokens.weight", "biogpt.layer_norm",
                        head="output_projection.weight", norm_bias=True)
    w["pos_embed.weight"] = sd["biogpt.embed_positions.weight"]
    return w


ARCH = Arch(
    model_type="biogpt",
    family="BioGPT (scaled embedding, learned positions +2, LayerNorm)",
    spec=_spec,
    weights=_weights,
    tiny_config=lambda: _tiny(),
    sizing=Sizing("plain", learned_positions=2),  # fairseq's padding offset: max_context + 2 position rows
)


def _tiny():
    from transformers import BioGptConfig

    return BioGptConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, max_position_embeddings=256)
