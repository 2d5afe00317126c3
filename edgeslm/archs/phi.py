"""phi: JSL-MedPhi2 (Phi-2). Parallel attention + MLP on one LayerNorm, partial rotary, biases everywhere."""

from edgeslm.archs.base import Arch, Sizing, activation, decoder_weights, partial_rotary
from edgeslm.errors import UnsupportedError
from edgeslm.model.spec import DecoderSpec

_NAMES = {
    "self_attn.q_proj": "q_proj", "self_attn.k_proj": "k_proj", "self_attn.v_proj": "v_proj",
    "self_attn.dense": "o_proj", "mlp.fc1": "up_proj", "mlp.fc2": "down_proj", "input_layernorm": "attn_norm",
}


def _spec(config, max_positions):
    if config.qk_layernorm:
        raise UnsupportedError("phi with qk_layernorm=True is not supported",
                               hint="Phi-2 checkpoints use qk_layernorm=False; open an issue with the model id.")
    hd = config.hidden_size // config.num_attention_heads
    return DecoderSpec(
        model_type="phi", vocab_size=config.vocab_size, hidden=config.hidden_size, layers=config.num_hidden_layers,
        heads=config.num_attention_heads, kv_heads=config.num_key_value_heads or config.num_attention_heads,
        head_dim=hd, intermediate=config.intermediate_size, norm="layer", norm_eps=config.layer_norm_eps,
        mlp="plain", activation=activation(config), position="rope", rotary_dim=int(hd * partial_rotary(config)),
        max_positions=max_positions, qkv_bias=True, o_bias=True, mlp_bias=True, norm_bias=True,
        lm_head_bias=True, parallel_residual=True,
    )


def _weights(sd, config):
    w = decoder_weights(sd, "model.layers", _NAMES, "model.embed_tokens.weight", "model.final_layernorm",
                        norm_bias=True)
    w["lm_head.bias"] = sd["lm_head.bias"]
    return w


ARCH = Arch(
    model_type="phi",
    family="Phi-1/2 (parallel residual, partial rotary, LayerNorm)",
    spec=_spec,
    weights=_weights,
    tiny_config=lambda: _tiny(),
    # One LayerNorm per block (parallel residual); rotary, so no position table; the lm_head has a bias.
    sizing=Sizing("plain", layer_norms=1, lm_head_bias=True),
)


def _tiny():
    from transformers import PhiConfig

    return PhiConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=256, partial_rotary_factor=0.5)
