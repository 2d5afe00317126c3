"""llama: Meditron, PMC-LLaMA, MedAlpaca, MentaLLaMA, TinyLlama and the embedded SmolLM2 default."""

from edgeslm.archs.base import Arch, llama_like_spec, llama_like_weights, tiny_llama_like

ARCH = Arch(
    model_type="llama",
    family="Llama (RMSNorm, SwiGLU, RoPE, GQA)",
    spec=lambda config, max_positions: llama_like_spec(config, max_positions),
    weights=llama_like_weights,
    tiny_config=lambda: tiny_llama_like("LlamaConfig", rope_theta=10000.0),
)
