"""What an architecture entry declares, and the helpers the llama-like families share.

An entry maps a Hugging Face `model_type` onto the canonical DecoderSpec plus canonical weight names
(edgeslm/model/decoder.py), and declares the layer layout `plan` sizes it by before any download (`Sizing`).
Adding an architecture is one file in this folder and one line in archs/__init__.py. Importing the registry
needs neither torch nor transformers (`edgeslm plan` reads it): entries import them where they use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from edgeslm.errors import UnsupportedError
from edgeslm.model.spec import DecoderSpec

if TYPE_CHECKING:
    import torch

Weights = dict[str, "torch.Tensor"]

LAYOUTS = ("gated", "plain", "mamba")


@dataclass(frozen=True)
class Sizing:
    """The layer layout `edgeslm plan` sizes a model by from its catalog facts alone (edgeslm/fit.py).

    layout: "gated" -- q, k, v, o + gate, up, down, two RMSNorms per block (llama and its kin);
            "plain" -- four hidden x hidden attention matmuls + up, down, LayerNorms with biases, biases on every
                       matmul (gpt2, biogpt, phi; heads * head_dim == hidden in all of them);
            "mamba" -- HF MambaConfig's mixer (state 16, conv kernel 4, dt_rank = ceil(hidden / 16)).
    """

    layout: str
    qkv_bias: bool = False  # gated: biases on q, k, v
    qk_norm: bool = False  # gated: per-head q_norm and k_norm (head_dim each)
    sandwich_norm: bool = False  # gated: pre/post feed-forward norms besides the two per block
    layer_norms: int = 2  # plain: LayerNorms per block (weight + bias each)
    learned_positions: int | None = None  # plain: a learned position table of max_context + this many rows
    lm_head_bias: bool = False  # an untied lm_head carries a bias (vocab fp32 values)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"Sizing.layout {self.layout!r} is not one of {', '.join(LAYOUTS)}")


@dataclass(frozen=True)
class Arch:
    model_type: str
    family: str  # what the entry covers, for `edgeslm list archs`
    spec: Callable[[object, int], DecoderSpec]  # (hf config, max_positions) -> spec
    weights: Callable[[Weights, object], Weights]  # (hf state dict, hf config) -> canonical weights
    tiny_config: Callable[[], object]  # a 2-layer random config for tests
    sizing: Sizing = Sizing("gated")  # the layer layout plan sizes it by (see Sizing)


ACTIVATION_NAMES = {
    "silu": "silu", "swish": "silu",
    "gelu": "gelu",
    "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
    "relu": "relu",
}


def activation(config, attr: str = "hidden_act") -> str:
    name = getattr(config, attr, None) or getattr(config, "hidden_activation", None)
    if name not in ACTIVATION_NAMES:
        raise UnsupportedError(f"activation {name!r} of {config.model_type} is not supported",
                               hint="Supported activations: " + ", ".join(sorted(ACTIVATION_NAMES)))
    return ACTIVATION_NAMES[name]


def rope_theta(config) -> float:
    params = getattr(config, "rope_parameters", None) or {}
    return float(params.get("rope_theta", getattr(config, "rope_theta", 10000.0)))


def partial_rotary(config) -> float:
    params = getattr(config, "rope_parameters", None) or {}
    return float(params.get("partial_rotary_factor", getattr(config, "partial_rotary_factor", 1.0)))


def head_dim_of(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def sliding_windows(config) -> tuple[int, ...]:
    """Per-layer windows from config.layer_types (qwen2, gemma3) or a model-wide sliding_window (mistral)."""
    window = getattr(config, "sliding_window", None) or 0
    types = getattr(config, "layer_types", None)
    if types:
        return tuple(window if t == "sliding_attention" else 0 for t in types)
    if window and getattr(config, "use_sliding_window", True):
        return (window,) * config.num_hidden_layers
    return ()


def llama_like_spec(config, max_positions: int, **overrides) -> DecoderSpec:
    hd = head_dim_of(config)
    fields = dict(
        model_type=config.model_type, vocab_size=config.vocab_size, hidden=config.hidden_size,
        layers=config.num_hidden_layers, heads=config.num_attention_heads,
        kv_heads=getattr(config, "num_key_value_heads", None) or config.num_attention_heads, head_dim=hd,
        intermediate=config.intermediate_size, norm="rms", norm_eps=config.rms_norm_eps, mlp="gated",
        activation=activation(config), position="rope", rotary_dim=int(hd * partial_rotary(config)),
        max_positions=max_positions, qkv_bias=bool(getattr(config, "attention_bias", False)),
        o_bias=bool(getattr(config, "attention_bias", False)), mlp_bias=bool(getattr(config, "mlp_bias", False)),
        sliding_windows=sliding_windows(config),
    )
    fields.update(overrides)
    return DecoderSpec(**fields)


LLAMA_LAYER_NAMES = {
    "self_attn.q_proj": "q_proj", "self_attn.k_proj": "k_proj", "self_attn.v_proj": "v_proj",
    "self_attn.o_proj": "o_proj", "mlp.gate_proj": "gate_proj", "mlp.up_proj": "up_proj",
    "mlp.down_proj": "down_proj", "input_layernorm": "attn_norm", "post_attention_layernorm": "mlp_norm",
    "self_attn.q_norm": "q_norm", "self_attn.k_norm": "k_norm",
}


def rename_layers(sd: Weights, prefix: str, names: dict[str, str]) -> Weights:
    """Map `<prefix>.<i>.<hf name>.<weight|bias>` onto `layers.<i>.<canonical>.<weight|bias>`."""
    out: Weights = {}
    for key, value in sd.items():
        if not key.startswith(prefix + "."):
            continue
        index, rest = key[len(prefix) + 1:].split(".", 1)
        module, _, kind = rest.rpartition(".")
        if module in names:
            out[f"layers.{index}.{names[module]}.{kind}"] = value
    return out


def lm_head_weight(sd: Weights, embed_key: str, head_key: str = "lm_head.weight") -> "torch.Tensor":
    """The output projection, untied: a tied model gets its own copy of the embedding."""
    return sd[head_key] if head_key in sd else sd[embed_key]


def decoder_weights(sd: Weights, layers: str, names: dict[str, str], embed: str, norm: str,
                    head: str = "lm_head.weight", norm_bias: bool = False) -> Weights:
    """Layers renamed, plus the embedding, the final norm and the (untied) output projection."""
    w = rename_layers(sd, layers, names)
    w["embed.weight"] = sd[embed]
    w["norm.weight"] = sd[norm + ".weight"]
    if norm_bias:
        w["norm.bias"] = sd[norm + ".bias"]
    w["lm_head.weight"] = lm_head_weight(sd, embed, head)
    return w


def llama_like_weights(sd: Weights, config, names: dict[str, str] = LLAMA_LAYER_NAMES) -> Weights:
    return decoder_weights(sd, "model.layers", names, "model.embed_tokens.weight", "model.norm")


def tiny_llama_like(config_name: str, **overrides):
    """2 layers, hidden 64, a small vocab: the tiny test model of ARCHITECTURE.md's conventions.
    `config_name`: the transformers config class, imported here (the registry itself does not import transformers)."""
    import transformers

    config_cls = getattr(transformers, config_name)
    fields = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  tie_word_embeddings=False)
    fields.update(overrides)
    return config_cls(**fields)
