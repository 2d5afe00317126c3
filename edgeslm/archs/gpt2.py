"""gpt2: BioMedLM. Conv1D weights are stored (in, out): transposed to the canonical (out, in)."""

from edgeslm.archs.base import Arch, Sizing, activation, lm_head_weight
from edgeslm.errors import UnsupportedError
from edgeslm.model.spec import DecoderSpec


def _spec(config, max_positions):
    if config.scale_attn_by_inverse_layer_idx or config.reorder_and_upcast_attn or not config.scale_attn_weights:
        raise UnsupportedError("gpt2 with non-default attention scaling is not supported",
                               hint="scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn must be False.")
    return DecoderSpec(
        model_type="gpt2", vocab_size=config.vocab_size, hidden=config.n_embd, layers=config.n_layer,
        heads=config.n_head, kv_heads=config.n_head, head_dim=config.n_embd // config.n_head,
        intermediate=config.n_inner or 4 * config.n_embd, norm="layer", norm_eps=config.layer_norm_epsilon,
        mlp="plain", activation=activation(config, "activation_function"), position="learned",
        max_positions=min(max_positions, config.n_positions), qkv_bias=True, o_bias=True, mlp_bias=True,
        norm_bias=True,
    )


def _weights(sd, config):
    w = {"embed.weight": sd["transformer.wte.weight"], "pos_embed.weight": sd["transformer.wpe.weight"],
         "norm.weight": sd["transformer.ln_f.weight"], "norm.bias": sd["transformer.ln_f.bias"],
         "lm_head.weight": lm_head_weight(sd, "transformer.wte.weight")}
    for i in range(config.n_layer):
        h, out = f"transformer.h.{i}.", f"layers.{i}."
        q, k, v = sd[h + "attn.c_attn.weight"].t().chunk(3, dim=0)
        qb, kb, vb = sd[h + "attn.c_attn.bias"].chunk(3)
        w.update({
            out + "q_proj.weight": q, out + "k_proj.weight": k, out + "v_proj.weight": v,
            out + "q_proj.bias": qb, out + "k_proj.bias": kb, out + "v_proj.bias": vb,
            out + "o_proj.weight": sd[h + "attn.c_proj.weight"].t(), out + "o_proj.bias": sd[h + "attn.c_proj.bias"],
            out + "up_proj.weight": sd[h + "mlp.c_fc.weight"].t(), out + "up_proj.bias": sd[h + "mlp.c_fc.bias"],
            out + "down_proj.weight": sd[h + "mlp.c_proj.weight"].t(), out + "down_proj.bias": sd[h + "mlp.c_proj.bias"],
            out + "attn_norm.weight": sd[h + "ln_1.weight"], out + "attn_norm.bias": sd[h + "ln_1.bias"],
            out + "mlp_norm.weight": sd[h + "ln_2.weight"], out + "mlp_norm.bias": sd[h + "ln_2.bias"],
        })
    return w


ARCH = Arch(
    model_type="gpt2",
    family="GPT-2 (learned positions, LayerNorm, MHA)",
    spec=_spec,
    weights=_weights,
    tiny_config=lambda: _tiny(),
    sizing=Sizing("plain", learned_positions=0),
)


def _tiny():
    from transformers import GPT2Config

    return GPT2Config(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_positions=256)
