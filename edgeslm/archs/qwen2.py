"""qwen2: Apollo 0.5B/1.8B/7B and MentalQLM's Qwen1.5 base. Biases on q/k/v, none on o."""

from edgeslm.archs.base import Arch, Sizing, llama_like_spec, llama_like_weights, tiny_llama_like

ARCH = Arch(
    model_type="qwen2",
    family="Qwen2 / Qwen1.5 (Llama + q/k/v bias)",
    spec=lambda config, max_positions: llama_like_spec(config, max_positions, qkv_bias=True, o_bias=False),
    weights=llama_like_weights,
    tiny_config=lambda: tiny_llama_like("Qwen2Config"),
    sizing=Sizing("gated", qkv_bias=True),
)
