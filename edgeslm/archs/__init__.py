"""Architecture registry, keyed by Hugging Face `model_type`. One file per family, one line here each."""

from edgeslm.archs import biogpt, gemma3, gpt2, llama, mistral, phi, phi3, qwen2
from edgeslm.archs.base import Arch, Sizing
from edgeslm.registry import Registry

ARCHS: Registry[Arch] = Registry("architecture", "edgeslm list archs")

for _arch in (llama.ARCH, mistral.ARCH, qwen2.ARCH, phi3.ARCH, gemma3.ARCH, gemma3.MULTIMODAL, gpt2.ARCH,
              biogpt.ARCH, phi.ARCH):
    ARCHS.add(_arch.model_type, _arch)

# Model types the catalog lists and `plan` sizes, but edgeslm does not export (no Arch entry yet).
SIZING_ONLY: dict[str, Sizing] = {
    "gemma": Sizing("gated"),  # Gemma 1 (Apollo-2B): llama's layout; norms and embedding scale do not change sizes
    "mamba": Sizing("mamba"),  # ClinicalMamba
}


def sizing_for(model_type: str) -> Sizing | None:
    """The layer layout `plan` sizes `model_type` by, or None when no entry declares one."""
    if model_type in ARCHS:
        return ARCHS.get(model_type).sizing
    return SIZING_ONLY.get(model_type)
