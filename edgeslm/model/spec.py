"""DecoderSpec: one description that every supported causal LM maps onto.

Each architecture file (edgeslm/archs/<family>.py) reads a Hugging Face config and state dict and says how
its decoder is built in these terms; the EdgeDecoder (decoder.py) then runs any of them. One canonical
module is what lets three backends (ONNX, ExecuTorch, Core ML) share one adapt stage: only the attention
kernel changes per backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NORMS = ("rms", "layer")
MLPS = ("gated", "plain")
ACTIVATIONS = ("silu", "gelu", "gelu_tanh", "relu")
POSITIONS = ("rope", "learned")


@dataclass(frozen=True)
class DecoderSpec:
    model_type: str
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    norm: str  # "rms" | "layer"
    norm_eps: float
    mlp: str  # "gated" (gate/up/down) | "plain" (up/down)
    activation: str
    position: str  # "rope" | "learned"
    rotary_dim: int = 0  # < head_dim for partial rotary (phi); 0 without rope
    learned_position_offset: int = 0  # biogpt's positional table starts at index 2
    max_positions: int = 2048  # rows in the rotary tables / learned position table
    attn_scale: float = 0.0  # 0 -> head_dim ** -0.5
    embed_scale: float = 1.0  # gemma and biogpt scale the embedding by sqrt(hidden)
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    norm_bias: bool = False  # LayerNorm has a bias, RMSNorm none
    lm_head_bias: bool = False
    parallel_residual: bool = False  # phi: x + attn(ln(x)) + mlp(ln(x))
    qk_norm: bool = False  # gemma3: RMSNorm on each head of q and k before rotary
    sandwich_norm: bool = False  # gemma3: norms after attention and around the MLP too
    sliding_windows: tuple[int, ...] = field(default_factory=tuple)  # per layer, 0 = full attention
    rope_tables: tuple[str, ...] = field(default_factory=tuple)  # per layer: which cos/sin table ("global"/"local")

    def __post_init__(self) -> None:
        checks = {
            "norm": (self.norm, NORMS), "mlp": (self.mlp, MLPS),
            "activation": (self.activation, ACTIVATIONS), "position": (self.position, POSITIONS),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"DecoderSpec.{name}={value!r}; expected one of {allowed}")
        if self.heads % self.kv_heads:
            raise ValueError(f"heads={self.heads} is not a multiple of kv_heads={self.kv_heads}")
        if self.position == "rope" and not (0 < self.rotary_dim <= self.head_dim and self.rotary_dim % 2 == 0):
            raise ValueError(f"rotary_dim={self.rotary_dim} must be even and in (0, head_dim={self.head_dim}]")
        for name in ("sliding_windows", "rope_tables"):
            value = getattr(self, name)
            if value and len(value) != self.layers:
                raise ValueError(f"{name} has {len(value)} entries for {self.layers} layers")

    @property
    def scale(self) -> float:
        return self.attn_scale or self.head_dim ** -0.5

    def window(self, layer: int) -> int:
        return self.sliding_windows[layer] if self.sliding_windows else 0

    def rope_table(self, layer: int) -> str:
        return self.rope_tables[layer] if self.rope_tables else "global"
