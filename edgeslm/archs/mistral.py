"""mistral: BioMistral, Meerkat. Sliding-window attention where the config sets a window."""

from edgeslm.archs.base import Arch, llama_like_spec, llama_like_weights, tiny_llama_like

ARCH = Arch(
    model_type="mistral",
    family="Mistral (Llama + sliding-window attention)",
    spec=lambda config, max_positions: llama_like_spec(config, max_positions),
    weights=llama_like_weights,
    # A window of 8 in a 256-position model: tests cross the window with short prompts.
    tiny_config=lambda: tiny_llama_like("MistralConfig", sliding_window=8, head_dim=16),
)
